"""The tiers' real operations raise alerts: a drifted bucket (moto) and a retention run that a safety rule stops."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts.models import Alert, Kind
from backups.models import Artifact, BackupRun, Database, Verification
from backups.retention.applier import apply_retention
from backups.storage import bucket_policy


def test_a_drifted_bucket_fires_and_applying_the_policy_resolves_it(s3_tier, moto_s3):
    bucket_policy.check_drift(s3_tier)  # a new bucket has none of the declared settings
    alert = Alert.objects.open().get(kind=Kind.BUCKET_DRIFT)
    assert alert.tier == s3_tier and "lifecycle rule lifeboat-" in alert.message

    bucket_policy.apply_policy(s3_tier)
    assert bucket_policy.check_drift(s3_tier).differences == []
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None


def test_a_retention_run_stopped_by_a_safety_rule_fires(local_tier, backup_root):
    """The newest copies failed verification: retention keeps the older verified one it would have deleted."""
    database = Database.objects.create(name="ret_alert", dbname="ret_alert")
    now = timezone.now()
    for age in range(12):
        started = now - timedelta(days=age, hours=1)
        run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, started_at=started,
                                       created_at=started, finished_at=started)
        path = backup_root / f"ret_alert_{age}.dump.zst"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
        artifact = Artifact.objects.create(run=run, tier=local_tier, location=str(path), size_bytes=10)
        if age == 10:
            Verification.objects.create(artifact=artifact, status=Verification.Status.PASSED)
        if age in (1, 3):
            Verification.objects.create(artifact=artifact, status=Verification.Status.FAILED)

    report = apply_retention(local_tier)
    assert report.plan.refusals
    alert = Alert.objects.open().get(kind=Kind.RETENTION_REFUSED)
    assert alert.tier == local_tier and "kept" in alert.message and "copy #" in alert.message
