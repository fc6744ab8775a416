"""Lifeboat survives its own loss: the README's three commands bring a lost SQLite dashboard back.

Machine A (its own SQLite file) protects a database, takes a backup, copies itself, takes another backup, and is
lost. Machine B is a fresh checkout sharing only the backup directory: migrate, restore_selfbackup,
import_catalog; the user, the audit trail and both runs are back, and the newest one verifies and restores.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LEARNING_SCHEMA

ROOT = Path(__file__).resolve().parent.parent


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def machine(var_dir: Path, backup_root: Path) -> dict[str, str]:
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(LIFEBOAT_VAR_DIR=str(var_dir), LIFEBOAT_BACKUP_ROOT=str(backup_root), SECRET_KEY="test-only-key",
               LIFEBOAT_VERIFY_AFTER_BACKUP="0", LIFEBOAT_TASKS_SYNC="1", DJANGO_SETTINGS_MODULE="dashboard.settings")
    return env


def rows(db_file: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db_file) as db:
        return db.execute(query).fetchall()


@pytest.mark.slow
def test_a_lost_dashboard_comes_back_with_three_commands(pg_server, make_source_db, tmp_path):
    source = make_source_db(LEARNING_SCHEMA, prefix="lbt_dr")
    backups = tmp_path / "shared-backups"
    a = machine(tmp_path / "machine-a", backups)
    t = pg_server.target
    manage(a, "migrate", "--noinput")
    manage(a, "shell", "-c", "from django.contrib.auth.models import User; "
                             "User.objects.create_user('dana', password='correct-horse-battery')")
    manage(a, "add_database", "learning", "--dsn", f"postgresql://{t.user}@{t.host}:{t.port}/{source}")
    first = json.loads(manage(a, "backup", "learning", "--json").stdout)
    copied = json.loads(manage(a, "self_backup", "--json").stdout)
    with pg_server.connect(source) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('after-the-self-backup@example.com')")
    second = json.loads(manage(a, "backup", "learning", "--json").stdout)
    assert first["status"] == second["status"] == "succeeded"
    assert copied["name"].startswith("lifeboat_selfbackup_") and (backups / copied["name"]).exists()
    assert json.loads((backups / (copied["name"] + ".json")).read_text())["sha256"] == copied["sha256"]
    (tmp_path / "machine-a").rename(tmp_path / "machine-a-lost")  # the dashboard's disk is gone

    b = machine(tmp_path / "machine-b", backups)
    manage(b, "migrate", "--noinput")
    restored = json.loads(manage(b, "restore_selfbackup", "--tier", "local", "--json").stdout)
    imported = json.loads(manage(b, "import_catalog", "--tier", "local", "--json").stdout)

    assert restored["name"] == copied["name"]
    assert (imported["imported"], imported["known"], imported["flagged"]) == (1, 1, 0)
    db_file = tmp_path / "machine-b" / "lifeboat.sqlite3"
    assert rows(db_file, "SELECT username FROM auth_user") == [("dana",)]
    runs = rows(db_file, "SELECT sha256, trigger, row_counts FROM backups_backuprun ORDER BY started_at")
    assert [(r[0], r[1]) for r in runs] == [(first["sha256"], "cli"), (second["sha256"], "import")]
    assert json.loads(runs[1][2])["public.users"] == 251
    actions = {r[0] for r in rows(db_file, "SELECT action FROM dashboard_auditevent")}
    assert {"backup.succeeded", "selfbackup.restored", "catalog.imported"} <= actions

    newest = rows(db_file, "SELECT id FROM backups_backuprun WHERE trigger = 'import'")[0][0]
    verified = manage(b, "verify", str(newest), "--json", check=False)
    assert verified.returncode == 0, verified.stderr
    target = f"{source}_back"
    try:
        restore = manage(b, "restore", str(newest), "--target-db", target, "--json", check=False)
        assert restore.returncode == 0, restore.stderr
        assert pg_server.query(target, "SELECT count(*) FROM users")[0][0] == 251
    finally:
        pg_server.drop_database(target)


def test_restore_selfbackup_refuses_a_dashboard_that_holds_data(pg_server, tmp_path):
    backups = tmp_path / "shared-backups"
    a = machine(tmp_path / "machine-a", backups)
    manage(a, "migrate", "--noinput")
    manage(a, "self_backup")
    manage(a, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('kept')")

    refused = manage(a, "restore_selfbackup", "--tier", "local", check=False)

    assert refused.returncode == 1 and "already holds users or backup runs" in refused.stderr
    assert rows(tmp_path / "machine-a" / "lifeboat.sqlite3", "SELECT username FROM auth_user") == [("kept",)]


@pytest.mark.slow
def test_a_lost_postgresql_dashboard_comes_back_from_its_own_backup(pg_server, make_source_db, tmp_path):
    t = pg_server.target
    backups = tmp_path / "shared-backups"
    a = machine(tmp_path / "machine-a", backups)
    a["DATABASE_URL"] = f"postgresql://{t.user}@{t.host}:{t.port}/{make_source_db(prefix='lbt_dash_a')}"
    manage(a, "migrate", "--noinput")  # registers the dashboard's own database as protected
    manage(a, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('dana')")
    own = json.loads(manage(a, "self_backup", "--json").stdout)
    assert own["status"] == "succeeded", own

    b = machine(tmp_path / "machine-b", backups)
    fresh = make_source_db(prefix="lbt_dash_b")
    b["DATABASE_URL"] = f"postgresql://{t.user}@{t.host}:{t.port}/{fresh}"
    restored = json.loads(manage(b, "restore_selfbackup", "--tier", "local", "--path", str(backups),
                                 "--json").stdout)
    imported = json.loads(manage(b, "import_catalog", "--tier", "local", "--json").stdout)

    assert restored["name"].startswith("lifeboat_backup_")
    assert pg_server.query(fresh, "SELECT username FROM auth_user") == [("dana",)]
    # The self-backup caught its own run mid-flight; the import completes it from the manifest.
    assert (imported["imported"], imported["known"], imported["flagged"]) == (1, 0, 0)  # its copy, new here
    runs = pg_server.query(fresh, "SELECT id, status, sha256 FROM backups_backuprun")
    assert len(runs) == 1 and runs[0][:2] == (own["run_id"], "succeeded") and runs[0][2]
