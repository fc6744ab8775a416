"""At most one backup per database runs at a time: a database constraint, not a check-then-act."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection

from backups import pipeline
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


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_backups_cannot_both_run(learning_db):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(pipeline.backup(learning_db).status)
        except AlreadyRunning:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Either one was refused while the other ran, or they did not overlap at all; never two at once.
    assert sorted(outcomes) in (["refused", "succeeded"], ["succeeded", "succeeded"])
    if outcomes.count("succeeded") == 2:
        first, second = BackupRun.objects.order_by("started_at")
        assert first.finished_at <= second.started_at


def test_only_one_worker_claims_a_queued_run(learning_db):
    run = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.QUEUED)
    assert pipeline.claim(run.pk) is not None
    assert pipeline.claim(run.pk) is None
