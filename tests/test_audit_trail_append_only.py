"""The database itself refuses UPDATE and DELETE on the audit trail: bulk update(), QuerySet.delete() and raw
SQL through the app's connection fail on SQLite (the test database) and on PostgreSQL (a real migrate)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from audit import trail
from audit.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def event(db) -> AuditEvent:
    return trail.record("test.kept", summary="must stay as written")


def test_bulk_update_is_refused_by_the_database(event):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="rewritten")
    assert AuditEvent.objects.get(pk=event.pk).summary == "must stay as written"


def test_orm_delete_is_refused_by_the_database(event):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_through_the_app_connection_is_refused(event):
    for statement in ("UPDATE dashboard_auditevent SET actor = 'mallory'", "DELETE FROM dashboard_auditevent"):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.get(pk=event.pk).actor == "system"


def test_the_model_refuses_save_and_delete(event):
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


@pytest.mark.slow
def test_postgresql_trigger_refuses_updates_deletes_and_truncate(tmp_path, pg_server, make_source_db):
    """Lifeboat's own database on PostgreSQL: migrate creates the trigger; only an owner who disables it can
    tamper, and then verify_audit_log names the event."""
    import psycopg

    dbname = make_source_db(prefix="lbt_auditpg")
    dsn = pg_server.target.with_dbname(dbname).dsn
    env = {**os.environ, "DATABASE_URL": dsn, "LIFEBOAT_VAR_DIR": str(tmp_path / "var"),
           "LIFEBOAT_BACKUP_ROOT": str(tmp_path / "backups"), "DJANGO_SETTINGS_MODULE": "dashboard.settings",
           **pg_server.env}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*manage, *args], env=env, check=check, capture_output=True, text=True)

    run("migrate", "-v0")
    script = (
        "from django.db import IntegrityError, transaction\n"
        "from audit import trail\nfrom audit.models import AuditEvent\n"
        "for i in range(3): trail.record('test.pg', summary=f'pg event {i}')\n"
        "for attempt in (lambda: AuditEvent.objects.update(summary='x'), lambda: AuditEvent.objects.all().delete()):\n"
        "    try:\n        with transaction.atomic(): attempt()\n"
        "    except IntegrityError as exc: print('refused:', exc)\n"
        "    else: print('ALLOWED')\n"
    )
    out = run("shell", "-c", script).stdout
    assert out.count("refused:") == 2 and "ALLOWED" not in out, out
    assert run("verify_audit_log").returncode == 0

    with psycopg.connect(dsn, autocommit=True, **({"password": pg_server.env["PGPASSWORD"]}
                                                 if "PGPASSWORD" in pg_server.env else {})) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM dashboard_auditevent ORDER BY id")]
        for statement in ("UPDATE dashboard_auditevent SET summary = 'x'", "DELETE FROM dashboard_auditevent",
                          "TRUNCATE dashboard_auditevent"):
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
                conn.execute(statement)
        # A database owner can still do it by disabling the trigger: that is what the chain check is for.
        conn.execute("ALTER TABLE dashboard_auditevent DISABLE TRIGGER dashboard_auditevent_append_only")
        conn.execute("UPDATE dashboard_auditevent SET summary = 'pg event 9' WHERE id = %s", (ids[1],))

    result = run("verify_audit_log", check=False)
    assert result.returncode == 1
    assert f"event #{ids[1]} " in result.stderr and "edited" in result.stderr, result.stderr
