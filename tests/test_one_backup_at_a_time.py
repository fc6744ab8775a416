"""At most one backup per database runs at a time: a database constraint, not a check-then-act."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection

from backups.engine import pipeline
from backups.errors import AlreadyRunning
from backups.models import BackupRun
from tests.helpers import run_command


def test_constraint_refuses_a_second_active_run(learning_db):
    BackupRun.objects.create(database=learning_db, status=BackupRun.Status.RUNNING)
    with pytest.raises(IntegrityError):
        BackupRun.objects.create(database=learning_db, status=BackupRun.Status.QUEUED)


def test_backup_while_one_runs_is_refused_with_a_clear_error(learning_db):
    running = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.RUNNING)
    code, _, err = run_command("backup", learning_db.name)
    assert code == 1
    assert f"already running (run #{running.pk})" in err
    with pytest.raises(AlreadyRunning):
        pipeline.queue_backup(learning_db)


def test_finished_runs_do_not_block_the_next(learning_db):
    BackupRun.objects.create(database=learning_db, status=BackupRun.Status.FAILED)
    BackupRun.objects.create(database=learning_db, status=BackupRun.Status.ABANDONED)
    assert pipeline.backup(learning_db).status == BackupRun.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_second_backup_is_refused_while_the_first_is_really_running(learning_db, pg_server):
    """Hold pg_dump on a table lock so the first backup is mid-flight, then start a second one."""
    outcome: list[str] = []
    blocker = pg_server.connect(learning_db.dbname, autocommit=False)
    blocker.execute("LOCK TABLE problems IN ACCESS EXCLUSIVE MODE")

    def first() -> None:
        try:
            outcome.append(pipeline.backup(learning_db).status)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not pg_server.query("postgres", "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                              "AND application_name LIKE 'lifeboat-run-%%'"):
            assert time.monotonic() < deadline, "pg_dump never started"
            time.sleep(0.05)
        assert BackupRun.objects.get().status == BackupRun.Status.RUNNING
        with pytest.raises(AlreadyRunning, match="already running"):
            pipeline.backup(learning_db)
        with pytest.raises(AlreadyRunning):
            pipeline.queue_backup(learning_db)
    finally:
        blocker.rollback()
        blocker.close()
        thread.join()
    assert outcome == ["succeeded"]
    assert BackupRun.objects.count() == 1


def test_only_one_worker_claims_a_queued_run(learning_db):
    run = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.QUEUED)
    assert pipeline.claim(run.pk) is not None
    assert pipeline.claim(run.pk) is None
