"""A pg_dump that fails leaves no file, marks the run failed with pg_dump's own message, and exits 1."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from backups.models import BackupRun, Database
from tests.helpers import run_json


def assert_failed_and_clean(code: int, result: dict, backup_root: Path, message: str) -> None:
    assert code == 1
    assert result["status"] == "failed"
    assert message in result["error"]
    assert result["artifacts"] == []
    assert not [p for p in Path(backup_root).rglob("*") if p.is_file()], "a failed run left files behind"
    assert BackupRun.objects.get(pk=result["id"]).status == BackupRun.Status.FAILED


def test_unreachable_server(db, backup_root):
    Database.objects.create(name="gone", host="127.0.0.1", port=1, dbname="nothing", user="postgres")
    code, result = run_json("backup", "gone")
    assert_failed_and_clean(code, result, backup_root, "cannot connect to postgresql://postgres@127.0.0.1:1/nothing")


def test_missing_permissions_reports_pg_dumps_message(learning_db, pg_server, backup_root):
    role = f"{learning_db.dbname}_reader"
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT SELECT ON users, lessons TO "{role}"')  # not problems
    try:
        learning_db.user = role
        learning_db.save()
        code, result = run_json("backup", learning_db.name)
        assert_failed_and_clean(code, result, backup_root, "permission denied for table problems")
        assert "pg_dump exited with status 1" in result["error"]
    finally:
        pg_server.drop_database(learning_db.dbname)
        with pg_server.connect() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_killed_backend_mid_dump_fails_the_run(learning_db, pg_server, backup_root):
    with pg_server.connect(learning_db.dbname) as conn:
        # enough data that pg_dump is still streaming when its backend is terminated
        conn.execute("CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS pad "
                     "FROM generate_series(1, 600000) g")
    stop = threading.Event()

    def killer() -> None:
        with pg_server.connect() as conn:
            while not stop.is_set():
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'lifeboat-run-%%' AND datname = %s AND state = 'active' "
                    "AND query ILIKE 'COPY%%big%%'", (learning_db.dbname,)
                ).fetchall()
                if killed:
                    return
                time.sleep(0.01)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        code, result = run_json("backup", learning_db.name)
    finally:
        stop.set()
        thread.join()
    assert_failed_and_clean(code, result, backup_root, "pg_dump exited with status 1")
    # pg_dump's own words; whether the server's FATAL reaches it before the socket closes depends on timing.
    assert 'Dumping the contents of table "big" failed' in result["error"]


def test_missing_password_variable_is_a_clear_failure(learning_db, backup_root, monkeypatch):
    monkeypatch.delenv("LB_TEST_NO_SUCH_PASSWORD", raising=False)
    learning_db.password_env = "LB_TEST_NO_SUCH_PASSWORD"
    learning_db.save()
    code, result = run_json("backup", learning_db.name)
    assert_failed_and_clean(code, result, backup_root, "LB_TEST_NO_SUCH_PASSWORD")
