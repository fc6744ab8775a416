"""A verification that could not run is not a failed proof: an unreachable verification server gives the status
`error`, its own warning alert, and never counts as "the backup failed its restore test" in freshness, retention
or evidence."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts.models import Kind, Severity
from alerts.rules import current_conditions
from backups.engine import pipeline
from backups.models import BackupRun, Freshness, Verification
from backups.proof.verification import verify_artifact
from backups.retention.applier import copies_for
from backups.retention.planner import Verdict
from evidence.period import Scope
from evidence.summary import open_exceptions
from tests.aws import free_port


def test_an_unreachable_verification_server_is_an_error_not_a_failed_backup(learning_db, local_tier, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    proven = pipeline.backup(learning_db).artifacts.get()
    Verification.objects.create(artifact=proven, status=Verification.Status.PASSED, finished_at=timezone.now())
    newest = pipeline.backup(learning_db)
    assert newest.status == BackupRun.Status.SUCCEEDED
    artifact = newest.artifacts.get()
    local_tier.require_verified = True
    local_tier.save()
    settings.LIFEBOAT_VERIFY_DSN = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"  # nothing listens

    record = verify_artifact(artifact)

    assert record.status == Verification.Status.ERROR
    assert "could not run" in record.error and "cannot connect" in record.error
    assert not any(c["name"] == "restore" and not c["ok"] for c in record.checks)
    # Its own warning, never the critical "verification failed".
    conditions = current_conditions(timezone.now()).conditions.values()
    assert [(c.kind, c.severity) for c in conditions if c.kind.startswith("verification")] == [
        (Kind.VERIFICATION_ERROR, Severity.WARNING)]
    # Freshness still counts the verified copy; retention sees no failed proof; evidence lists no failed test.
    report = learning_db.freshness(local_tier)
    assert report.status == Freshness.OK and report.newest == artifact
    verdicts = {c.id: c.verification for c in copies_for(local_tier)}
    assert verdicts == {proven.pk: Verdict.PASSED, artifact.pk: Verdict.NONE}
    today = timezone.now().date()
    found = open_exceptions(Scope.build(today - timedelta(days=1), today))
    assert not [f for f in found if "restore test" in f["kind"]]


def test_a_later_verification_that_ran_ends_the_warning(learning_db, local_tier, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    artifact = pipeline.backup(learning_db).artifacts.get()
    settings.LIFEBOAT_VERIFY_DSN = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    assert verify_artifact(artifact).status == Verification.Status.ERROR
    settings.LIFEBOAT_VERIFY_DSN = ""
    assert verify_artifact(artifact).status == Verification.Status.PASSED
    kinds = [c.kind for c in current_conditions(timezone.now()).conditions.values()]
    assert Kind.VERIFICATION_ERROR not in kinds
