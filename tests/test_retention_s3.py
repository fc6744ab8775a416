"""Retention in an S3 tier (moto): expired copies get delete markers (their versions wait for the lifecycle),
the month's copy moves to the archive."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from backups.models import Artifact, BackupRun, Database
from backups.retention.applier import apply_retention
from backups.storage import storage_for


def test_s3_retention_deletes_versions_and_archives_the_monthly_copy(s3_tier, moto_s3, tmp_path):
    storage = storage_for(s3_tier)
    db = Database.objects.create(name="ret_s3", dbname="ret_s3")
    now = timezone.now().replace(day=15, hour=12)
    artifacts = {}
    for age in (0, 1, 2, 100, 101, 130):  # 100/101 days: same month; 130: another month
        started = now - timedelta(days=age)
        run = BackupRun.objects.create(database=db, status=BackupRun.Status.SUCCEEDED, started_at=started,
                                       created_at=started)
        source = tmp_path / f"ret_s3_{age}.dump.zst"
        source.write_bytes(b"%d" % age * 1000)
        copy = storage.put(source, source.name, {"sha256": "x", "database": db.name})
        artifacts[age] = Artifact.objects.create(run=run, tier=s3_tier, location=copy.location,
                                                 version_id=copy.version_id, size_bytes=copy.size_bytes)
    s3_tier.retention.monthly_forever = False
    s3_tier.retention.monthly_months = 12
    s3_tier.retention.save()

    report = apply_retention(s3_tier, now=now)

    month_of_100 = min((a for a in (100, 101)), key=lambda a: now - timedelta(days=a))
    assert report.errors == []
    deleted = {d.copy_id for d in report.deleted}
    assert deleted == {artifacts[a].pk for a in (100, 101) if a != month_of_100}
    listing = moto_s3.list_object_versions(Bucket=s3_tier.bucket)
    keys = {v["Key"]: v["VersionId"] for v in listing["Versions"] if v["IsLatest"]}
    marked = {m["Key"] for m in listing.get("DeleteMarkers", []) if m["IsLatest"]}
    for age, artifact in artifacts.items():
        artifact.refresh_from_db()
        if artifact.pk in deleted:  # a delete marker: the version stays until the lifecycle's grace period
            assert artifact.location not in keys and artifact.location in marked and artifact.deleted_at
        elif age in (month_of_100, 130):
            assert artifact.location.startswith("archive/monthly/") and keys[artifact.location] == artifact.version_id
        else:
            assert artifact.location.startswith("archive/monthly/") or keys[artifact.location] == artifact.version_id
    assert apply_retention(s3_tier, now=now).deleted == []
