"""A job is alive while its worker says so, not while bytes flow: a backup waiting on a lock for three stale periods
is not abandoned, and a run abandoned while it still worked never comes back as succeeded."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection

from backups.engine import pipeline
from backups.models import BackupRun, Database
from backups.reaper import reap
from core.heartbeat import heartbeat

STALE = 2


def _reap():
    """The reaper as the schedule runs it (SQLite's shared-cache test database may be busy for a moment)."""
    for _ in range(20):
        try:
            return reap()
        except OperationalError:
            time.sleep(0.05)
    raise AssertionError("the test database stayed locked")


def _backup_in_thread(database: Database, outcome: list[BackupRun]) -> threading.Thread:
    def work() -> None:
        try:
            outcome.append(pipeline.backup(database))
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def _wait_for_pg_dump_on_lock(pg_server, dbname: str) -> None:
    deadline = time.monotonic() + 30
    while not pg_server.query("postgres", "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                          "AND application_name LIKE 'lifeboat-run-%%' AND datname = %s", (dbname,)):
        assert time.monotonic() < deadline, "pg_dump never waited on the lock"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_backup_waiting_on_a_lock_for_three_stale_periods_is_not_abandoned(learning_db, pg_server, settings,
                                                                           backup_root):
    settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS = STALE
    blocker = pg_server.connect(learning_db.dbname, autocommit=False)
    blocker.execute("LOCK TABLE problems IN ACCESS EXCLUSIVE MODE")
    outcome: list[BackupRun] = []
    thread = _backup_in_thread(learning_db, outcome)
    try:
        _wait_for_pg_dump_on_lock(pg_server, learning_db.dbname)
        run = BackupRun.objects.get()
        first_beat = run.heartbeat_at
        deadline = time.monotonic() + 3 * STALE + 0.5
        while time.monotonic() < deadline:  # the reaper runs all along; pg_dump writes no byte meanwhile
            assert _reap().runs == []
            time.sleep(0.25)
        run.refresh_from_db()
        assert run.status == BackupRun.Status.RUNNING and run.bytes_done == 0
        assert run.heartbeat_at > first_beat
    finally:
        blocker.rollback()
        blocker.close()
        thread.join()
    assert [r.status for r in outcome] == [BackupRun.Status.SUCCEEDED]
    assert BackupRun.objects.get().status == BackupRun.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_abandoned_while_it_worked_never_becomes_succeeded(learning_db, pg_server, backup_root):
    blocker = pg_server.connect(learning_db.dbname, autocommit=False)
    blocker.execute("LOCK TABLE problems IN ACCESS EXCLUSIVE MODE")
    outcome: list[BackupRun] = []
    thread = _backup_in_thread(learning_db, outcome)
    try:
        _wait_for_pg_dump_on_lock(pg_server, learning_db.dbname)
        # As the reaper does when a worker froze past the stale period (its heartbeat read as stopped).
        BackupRun.objects.filter(status=BackupRun.Status.RUNNING).update(
            status=BackupRun.Status.ABANDONED, error="no heartbeat: reaped in the test")
    finally:
        blocker.rollback()
        blocker.close()
        thread.join()
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.ABANDONED and outcome[0].status == BackupRun.Status.ABANDONED
    assert "reaped in the test" in run.error
    assert not run.artifacts.exists()
    assert [p.name for p in backup_root.rglob("*") if p.is_file()] == []  # its copies are not kept


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_heartbeat_stops_on_exit_and_never_revives_a_reaped_row(db, settings):
    database = Database.objects.create(name="hb", dbname="hb")
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.RUNNING)
    with heartbeat(run, every=0.05) as beat:
        time.sleep(0.2)
        assert BackupRun.objects.get().heartbeat_at is not None
        BackupRun.objects.filter(pk=run.pk).update(status=BackupRun.Status.ABANDONED, heartbeat_at=None)
        assert beat.lost.wait(2)  # the conditional UPDATE found no running row
    assert not beat.is_alive()
    assert BackupRun.objects.get().heartbeat_at is None
