"""The audit trail names people: a job started from the dashboard is credited to the user who pressed the button."""

from __future__ import annotations

from audit.models import AuditEvent
from backups import tasks
from backups.models import Artifact, BackupRun, Verification


def test_a_backup_started_from_the_dashboard_is_the_users(dba, learning_db, local_tier):
    # What "Back up now" leaves for the worker: a queued run that names who asked (the worker runs outside any request).
    queued = BackupRun.objects.create(database=learning_db, trigger=BackupRun.Trigger.MANUAL, requested_by=dba)

    tasks.run_queued_backup(queued.pk)

    run = BackupRun.objects.get(pk=queued.pk)
    assert run.status == BackupRun.Status.SUCCEEDED and run.requested_by == dba
    actors = dict(AuditEvent.objects.filter(target_id=str(run.pk), action__startswith="backup.")
                  .values_list("action", "actor"))
    assert actors == {"backup.started": dba.username, "backup.succeeded": dba.username}


def test_a_verification_asked_for_from_the_dashboard_is_the_users(db, dba, local_tier, learning_db):
    run = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.SUCCEEDED)
    artifact = Artifact.objects.create(run=run, tier=local_tier, location="/nowhere/gone.dump.zst", sha256="0" * 64)
    record = Verification.objects.create(artifact=artifact, requested_by=dba)

    tasks.verify_artifact(artifact.pk, record.pk)

    event = AuditEvent.objects.get(action__startswith="verification.", target_id=str(record.pk))
    assert event.actor == dba.username


def test_a_scheduled_job_stays_system(db, local_tier, learning_db):
    run = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.SUCCEEDED)
    artifact = Artifact.objects.create(run=run, tier=local_tier, location="/nowhere/gone.dump.zst", sha256="0" * 64)
    record = Verification.objects.create(artifact=artifact)

    tasks.verify_artifact(artifact.pk, record.pk)

    assert AuditEvent.objects.get(action__startswith="verification.", target_id=str(record.pk)).actor == "system"
