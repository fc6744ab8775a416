"""A SIGKILLed worker's backup, verification and restore are each abandoned by the reaper and cleaned up: the
backup's pg_dump backend terminated (only it) and its files removed, the verification's scratch database and
temporary files gone, the restore's half-restored database dropped. Each job runs in its own `manage.py` process,
killed with SIGKILL mid-way, and `manage.py mark_abandoned` is the reaper."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable

import pytest

from tests.conftest import LEARNING_SCHEMA
from tests.helpers import LifeboatProcess

STALE = 2
# Enough rows that restoring them takes a few seconds: the kill lands while the job works.
BIG = "CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS pad FROM generate_series(1, 400000) g"

pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def kill(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def lifeboat(tmp_path, pg_server, make_source_db):
    lb = LifeboatProcess(tmp_path, LIFEBOAT_HEARTBEAT_STALE_SECONDS=str(STALE))
    lb.run("migrate", "-v0")
    lb.source = make_source_db(LEARNING_SCHEMA + BIG + ";", prefix="lbt_killed")
    lb.run("add_database", "k", "--dsn", pg_server.target.with_dbname(lb.source).dsn)
    return lb


def reap(lb: LifeboatProcess) -> str:
    time.sleep(STALE + 0.5)  # the killed worker's heartbeat is now stale
    return lb.run("mark_abandoned")


def backends(pg_server, name: str) -> list[tuple]:
    return pg_server.query("postgres", "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,))


def test_killed_backup_is_abandoned_its_pg_dump_terminated_and_its_files_removed(lifeboat, pg_server):
    lb = lifeboat
    blocker = pg_server.connect(lb.source, autocommit=False)
    blocker.execute("LOCK TABLE problems IN ACCESS EXCLUSIVE MODE")  # pg_dump waits here, mid-way
    try:
        proc = lb.popen("backup", "k")
        (app,) = wait_until(lambda: pg_server.query(
            "postgres", "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND application_name LIKE 'lifeboat-run-%%' AND datname = %s", (lb.source,)),
            "pg_dump waiting on the lock")[0]
        run_id = int(app.split("-")[2])  # lifeboat-run-<id>-<uuid>
        assert list(lb.backup_root.rglob(f"*.run-{run_id}.partial"))
        kill(proc)
        # The worker is gone but its pg_dump still waits for the lock: a second one could start beside it.
        assert backends(pg_server, app)
        assert lb.value(f"BackupRun.objects.get(pk={run_id}).status",
                        "from backups.models import BackupRun") == "running"

        assert f"run #{run_id}" in reap(lb)

        assert backends(pg_server, app) == []  # terminated while the lock is still held: by the reaper
        assert pg_server.query(lb.source, "SELECT 1")  # the database itself and other sessions are untouched
        status, error = lb.value(f"list(BackupRun.objects.values_list('status', 'error').get(pk={run_id}))",
                                 "from backups.models import BackupRun")
        assert status == "abandoned" and "pg_dump was terminated" in error
        assert [p for p in lb.backup_root.rglob("*") if p.is_file()] == []
    finally:
        blocker.rollback()
        blocker.close()
    assert '"status": "succeeded"' in lb.run("backup", "k", "--json")  # the next backup may run


def test_killed_verification_is_abandoned_and_its_scratch_database_and_temp_files_removed(lifeboat, pg_server):
    lb = lifeboat
    lb.run("backup", "k")
    proc = lb.popen("verify", "latest", "--database", "k")
    scratch = wait_until(lambda: pg_server.query(
        "postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_verify\\_%%' AND EXISTS ("
                    "SELECT 1 FROM pg_stat_activity a WHERE a.datname = pg_database.datname "
                    "AND a.query ILIKE 'COPY%%big%%')"), "the scratch database being loaded")[0][0]
    kill(proc)
    assert pg_server.database_exists(scratch) and list(lb.verify_tmp.glob("lifeboat-verify-*"))

    reap(lb)

    status = lb.value(f"Verification.objects.get(scratch_database='{scratch}').status",
                      "from backups.models import Verification")
    assert status == "abandoned"
    assert not pg_server.database_exists(scratch)
    assert list(lb.verify_tmp.iterdir()) == []


def test_killed_restore_is_abandoned_and_its_half_restored_database_dropped(lifeboat, pg_server):
    lb = lifeboat
    lb.run("backup", "k")
    run_id = lb.value("BackupRun.objects.get().pk", "from backups.models import BackupRun")
    target = f"lbt_restore_{uuid.uuid4().hex[:8]}"
    try:
        proc = lb.popen("restore", str(run_id), "--target-db", target)
        wait_until(lambda: pg_server.query("postgres", "SELECT 1 FROM pg_stat_activity WHERE datname = %s "
                                                       "AND query ILIKE 'COPY%%big%%'", (target,)),
                   "the restore loading rows")
        kill(proc)
        assert pg_server.database_exists(target)

        reap(lb)

        status = lb.value(f"Restore.objects.get(target_database='{target}').status",
                          "from backups.models import Restore")
        assert status == "abandoned"
        assert not pg_server.database_exists(target)
    finally:
        pg_server.drop_database(target)
