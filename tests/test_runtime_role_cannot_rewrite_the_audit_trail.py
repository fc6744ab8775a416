"""On PostgreSQL the dashboard runs as the runtime role setup_database_roles makes in Lifeboat's own database:
it appends audit events and uses every other table, but cannot delete or change events, truncate the table or
disable its triggers (it owns nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_runtime_role_appends_but_cannot_rewrite_history(tmp_path, pg_server, make_source_db):
    dbname = make_source_db(prefix="lbt_runtime")
    role = f"lbt_runtime_{uuid.uuid4().hex[:8]}"
    owner_dsn = pg_server.target.with_dbname(dbname).dsn
    base = {**os.environ, "LIFEBOAT_VAR_DIR": str(tmp_path / "var"), "LIFEBOAT_BACKUP_ROOT": str(tmp_path / "b"),
            "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_RUNTIME_ROLE": role, **pg_server.env}
    base.pop("REDIS_URL", None)

    def manage(*args: str, dsn: str = owner_dsn) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env={**base, "DATABASE_URL": dsn},
                              capture_output=True, text=True)

    try:
        assert manage("migrate", "-v0").returncode == 0
        made = manage("setup_database_roles", "--role", "runtime")
        assert made.returncode == 0, made.stderr
        assert "on dashboard_auditevent only INSERT and SELECT" in made.stdout

        runtime_dsn = owner_dsn.replace(f"//{pg_server.target.user}@", f"//{role}@", 1)
        appended = manage("shell", "-c", "from audit import trail; print(trail.record('test.runtime', "
                                         "summary='appended by the runtime role').pk)", dsn=runtime_dsn)
        assert appended.returncode == 0, appended.stderr
        assert manage("verify_audit_log", dsn=runtime_dsn).returncode == 0

        target = pg_server.target
        with psycopg.connect(host=target.host, port=target.port, user=role, dbname=dbname, autocommit=True) as conn:
            for attack in ("DELETE FROM dashboard_auditevent", "UPDATE dashboard_auditevent SET summary = 'x'",
                           "TRUNCATE dashboard_auditevent",
                           "ALTER TABLE dashboard_auditevent DISABLE TRIGGER dashboard_auditevent_append_only"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(attack)
            assert conn.execute("SELECT count(*) FROM dashboard_auditevent").fetchone()[0] >= 1
    finally:
        with pg_server.connect(dbname) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO {pg_server.target.user}')
            conn.execute(f'DROP OWNED BY "{role}"')
        pg_server.drop_database(dbname)
        with pg_server.connect("postgres") as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
