"""The globals file (roles, tablespaces) carries no role password hash unless asked for, and then only encrypted:
a SCRAM verifier in a readable file can be cracked offline. Asking for it without encryption is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyrage
import pytest
from psycopg import sql
from pyrage import x25519

from backups.engine import pipeline
from backups.models import BackupRun

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def role_with_password(pg_server):
    """A uniquely named login role with a password on the test server, dropped afterwards."""
    name = f"lbt_pw_{uuid.uuid4().hex[:8]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'a-secret-password-1'").format(sql.Identifier(name)))
    yield name
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def role_line(globals_sql: str, role: str) -> str:
    """The ALTER ROLE line pg_dumpall writes for `role` (with its PASSWORD when taken with passwords)."""
    return next(line for line in globals_sql.splitlines() if line.startswith(f"ALTER ROLE {role} "))


@pytest.fixture
def no_verification(settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False


def test_globals_leave_role_passwords_out_by_default(learning_db, role_with_password, no_verification):
    run = pipeline.backup(learning_db)

    assert run.status == BackupRun.Status.SUCCEEDED and not run.warnings, run.error or run.warnings
    text = Path(run.artifacts.get().globals_location).read_text()
    assert "PASSWORD" not in role_line(text, role_with_password)
    assert "SCRAM-SHA-256$" not in text


def test_globals_with_passwords_on_request_only_into_an_encrypted_file(learning_db, role_with_password, settings,
                                                                       tmp_path, no_verification):
    identity = x25519.Identity.generate()
    settings.LIFEBOAT_ENCRYPTION_RECIPIENTS = [str(identity.to_public())]
    settings.LIFEBOAT_GLOBALS_WITH_PASSWORDS = True

    run = pipeline.backup(learning_db)

    assert run.status == BackupRun.Status.SUCCEEDED and not run.warnings, run.error or run.warnings
    sealed = Path(run.artifacts.get().globals_location)
    assert sealed.name.endswith(".globals.sql.age")
    assert b"SCRAM-SHA-256$" not in sealed.read_bytes()
    text = pyrage.decrypt(sealed.read_bytes(), [identity]).decode()
    assert "PASSWORD 'SCRAM-SHA-256$" in role_line(text, role_with_password)


def test_globals_with_passwords_but_no_encryption_is_refused_in_one_line(learning_db, role_with_password, settings,
                                                                         no_verification):
    settings.LIFEBOAT_ENCRYPTION_RECIPIENTS = []
    settings.LIFEBOAT_GLOBALS_WITH_PASSWORDS = True

    run = pipeline.backup(learning_db)

    assert run.status == BackupRun.Status.SUCCEEDED  # the dump and the globals themselves are good
    assert run.warnings == ["globals saved without role passwords: LIFEBOAT_GLOBALS_WITH_PASSWORDS needs "
                            "encryption at rest (LIFEBOAT_ENCRYPTION_RECIPIENTS)"]
    text = Path(run.artifacts.get().globals_location).read_text()
    assert "SCRAM-SHA-256$" not in text and role_with_password in text


def test_lifeboat_refuses_to_start_with_passwords_asked_and_no_encryption(tmp_path):
    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(tmp_path), "LIFEBOAT_GLOBALS_WITH_PASSWORDS": "true",
           "LIFEBOAT_ENCRYPTION_RECIPIENTS": "", "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], env=env, capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: LIFEBOAT_GLOBALS_WITH_PASSWORDS needs encryption at rest: "
        "set LIFEBOAT_ENCRYPTION_RECIPIENTS, or role password hashes would be written in plain")
