"""A deployment that follows the README (migrate, then qcluster) runs the reaper: `migrate` alone registers the
schedules, and a real django-q2 cluster abandons a killed backup and terminates its pg_dump, with no
`sync_schedules` ever run."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import LEARNING_SCHEMA
from tests.helpers import LifeboatProcess
from tests.test_killed_worker_is_reaped import backends, kill, wait_until

SCHEDULES = "sorted(Schedule.objects.values_list('name', flat=True))"
SCHEDULE_SETUP = "from django_q.models import Schedule"


@pytest.mark.slow
def test_fresh_migrate_and_a_real_qcluster_reap_a_killed_backup(tmp_path, pg_server, make_source_db):
    lb = LifeboatProcess(tmp_path, LIFEBOAT_HEARTBEAT_STALE_SECONDS="2")
    lb.run("migrate", "-v0")
    names = lb.value(SCHEDULES, SCHEDULE_SETUP)
    assert {"lifeboat:mark-abandoned", "lifeboat:sweep-leftovers", "lifeboat:cleanup-scratch"} <= set(names)

    source = make_source_db(LEARNING_SCHEMA, prefix="lbt_qc_reap")
    lb.run("add_database", "qr", "--dsn", pg_server.target.with_dbname(source).dsn)
    assert "backup:qr" in lb.value(SCHEDULES, SCHEDULE_SETUP)

    blocker = pg_server.connect(source, autocommit=False)
    blocker.execute("LOCK TABLE problems IN ACCESS EXCLUSIVE MODE")
    cluster = None
    try:
        proc = lb.popen("backup", "qr")
        (app,) = wait_until(lambda: pg_server.query(
            "postgres", "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND application_name LIKE 'lifeboat-run-%%' AND datname = %s", (source,)),
            "pg_dump waiting on the lock")[0]
        run_id = int(app.split("-")[2])  # lifeboat-run-<id>-<uuid>
        kill(proc)

        cluster = lb.popen("qcluster", start_new_session=True)
        status = "running"
        deadline = time.monotonic() + 150
        while status == "running" and time.monotonic() < deadline:
            time.sleep(2)
            status = lb.value(f"BackupRun.objects.get(pk={run_id}).status", "from backups.models import BackupRun")
        assert status == "abandoned", cluster.stderr.read1().decode(errors="replace")[-3000:] if cluster else ""
        assert backends(pg_server, app) == []
        assert not list(lb.backup_root.rglob(f"*.run-{run_id}.partial"))
    finally:
        if cluster is not None:
            os.killpg(cluster.pid, signal.SIGTERM)
            try:
                cluster.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(cluster.pid, signal.SIGKILL)
        blocker.rollback()
        blocker.close()
