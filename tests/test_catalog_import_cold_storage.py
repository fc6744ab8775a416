"""Import knows storage classes (issue 19, part 6): copies the lifecycle moved to GLACIER come back as archived
(history complete, not readable until restored, not counted as fresh), and the monthly archive prefix is imported
with its manifests. moto never applies lifecycle transitions: a copy onto itself with StorageClass=GLACIER does."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backups.engine import pipeline
from backups.models import Artifact, BackupRun
from backups.retention.applier import apply_retention
from tests.catalog_helpers import forget_everything
from tests.helpers import run_command, run_json


def to_glacier(client, bucket: str, key: str) -> None:
    client.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                       StorageClass="GLACIER", MetadataDirective="COPY")


@pytest.fixture
def seasoned_bucket(learning_db, local_tier, s3_tier, moto_s3):
    """Backups 70, 40, 39 and 0 days old in the bucket; retention moved the first of each month to the archive
    prefix, and the lifecycle moved the 39-day-old copy (still in the tier's prefix) to GLACIER."""
    s3_tier.retention.keep_days = 60
    s3_tier.retention.save()
    now = timezone.now().replace(day=20, hour=12)
    runs = []
    for age in (70, 40, 39, 0):
        with time_machine.travel(now - timedelta(days=age), tick=False):
            run = pipeline.backup(learning_db, tiers=[s3_tier])
        assert run.status == "succeeded", run.error
        runs.append(run)
    report = apply_retention(s3_tier, now=now)
    assert report.errors == [] and report.archived
    cold = runs[2].artifacts.get(tier=s3_tier)
    assert not cold.location.startswith(s3_tier.archive_prefix)
    to_glacier(moto_s3, s3_tier.bucket, cold.location)
    return runs, cold


def test_glacier_copies_come_back_archived_and_the_archive_prefix_with_its_manifests(seasoned_bucket, s3_tier):
    runs, cold = seasoned_bucket
    live_before = {a.run.backup_uuid: a.location for a in Artifact.objects.live().filter(tier=s3_tier)}
    forget_everything()

    code, report = run_json("import_catalog", "--tier", s3_tier.name)

    assert code == 0, report
    assert report["flagged"] == 0 and BackupRun.objects.count() == len(runs)
    archived = Artifact.objects.get(run__backup_uuid=cold.run.backup_uuid)
    assert archived.status == Artifact.Status.ARCHIVED and archived.storage_class == "GLACIER"
    assert archived.run.status == BackupRun.Status.SUCCEEDED
    live_after = {a.run.backup_uuid: a.location for a in Artifact.objects.live().filter(tier=s3_tier)}
    assert cold.run.backup_uuid not in live_after  # not readable, so not fresh
    assert live_after == {uuid: loc for uuid, loc in live_before.items() if uuid != cold.run.backup_uuid}
    assert any(loc.startswith(s3_tier.archive_prefix) for loc in live_after.values())


def test_a_restore_is_requested_and_the_copy_verified_once_readable(seasoned_bucket, s3_tier, dba):
    _, cold = seasoned_bucket
    forget_everything()
    run_json("import_catalog", "--tier", s3_tier.name)

    code, out, err = run_command("restore_archived", "--tier", s3_tier.name, "--actor", dba.username)

    assert code == 0, err
    archived = Artifact.objects.get(run__backup_uuid=cold.run.backup_uuid)
    assert "restore requested" in out or "readable" in out
    # moto completes restores at once: the next pass finds it readable, checks its hash and makes it live.
    code, out, err = run_command("restore_archived", "--tier", s3_tier.name, "--actor", dba.username)
    archived.refresh_from_db()
    assert code == 0, err
    assert archived.status == Artifact.Status.STORED and "readable" in out


def test_a_known_copy_the_lifecycle_moved_to_glacier_is_swept_to_archived(seasoned_bucket, s3_tier):
    """A dashboard restored from a self-backup still believes the copy is live; the sweep asks the bucket."""
    from backups.catalog.sweep import sweep_tier

    _, cold = seasoned_bucket
    assert Artifact.objects.get(pk=cold.pk).status == Artifact.Status.STORED

    report = sweep_tier(s3_tier)

    cold.refresh_from_db()
    assert report.archived_copies == [cold.pk] and report.errors == []
    assert cold.status == Artifact.Status.ARCHIVED and cold.storage_class == "GLACIER"
    assert not Artifact.objects.live().filter(pk=cold.pk).exists()
