"""Manifests follow their artifacts: retention deletes and archive moves take the sidecar along, the catalog
changes before storage, and a sweep repairs what a crash left in between (issue 19, part 1)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from backups.catalog import sweep
from backups.engine import pipeline
from backups.errors import StorageError
from backups.models import Artifact, BackupRun
from backups.retention import applier
from backups.retention.applier import apply_retention
from tests.catalog_helpers import forget_everything
from tests.helpers import run_json


@pytest.fixture
def aged_runs(learning_db, local_tier):
    """Four real backups, 30, 20, 10 and 0 days old; the local tier keeps 7 days and at least one copy."""
    local_tier.retention.keep_days = 7
    local_tier.retention.keep_last = 1
    local_tier.retention.save()
    now = timezone.now()
    runs = []
    for age in (30, 20, 10, 0):
        with time_machine.travel(now - timedelta(days=age), tick=False):
            run = pipeline.backup(learning_db)
        assert run.status == "succeeded", run.error
        runs.append(run)
    return runs


def test_after_retention_an_import_finds_no_phantom_runs(aged_runs, local_tier):
    report = apply_retention(local_tier)
    assert report.errors == [] and len(report.deleted) == 3
    for artifact in Artifact.objects.filter(pk__in=[d.copy_id for d in report.deleted]):
        assert not Path(artifact.manifest_location).exists()
        assert not Path(artifact.location).exists()
    forget_everything()

    code, imported = run_json("import_catalog", "--tier", "local")

    assert code == 0, imported
    assert (imported["imported"], imported["flagged"]) == (1, 0)
    assert BackupRun.objects.count() == 1 and Artifact.objects.live().count() == 1


def test_a_crash_between_catalog_and_storage_leaves_a_row_the_sweep_finishes(aged_runs, local_tier, monkeypatch):
    real_delete = applier.remove_from_storage

    def crash(storage, artifact):
        raise StorageError("the server died here")

    monkeypatch.setattr(applier, "remove_from_storage", crash)
    report = apply_retention(local_tier)
    assert len(report.errors) == 3
    deleting = list(Artifact.objects.filter(status=Artifact.Status.DELETING))
    assert len(deleting) == 3  # never "live": the catalog changed first
    assert Artifact.objects.live().count() == 1
    assert all(Path(a.location).exists() for a in deleting)
    monkeypatch.setattr(applier, "remove_from_storage", real_delete)

    found = sweep.sweep_tier(local_tier)

    assert sorted(found.finished) == sorted(a.pk for a in deleting)
    for artifact in Artifact.objects.filter(pk__in=found.finished):
        assert artifact.status == Artifact.Status.DELETED and artifact.deleted_at
        assert not Path(artifact.location).exists() and not Path(artifact.manifest_location).exists()


def test_the_sweep_repairs_orphans_in_either_direction(aged_runs, local_tier, dba):
    newest = aged_runs[-1].artifacts.get()
    oldest = aged_runs[0].artifacts.get()
    Path(newest.manifest_location).unlink()  # an artifact without its manifest
    Path(oldest.location).unlink()  # a manifest without its artifact (and a row that lies)

    found = sweep.sweep_tier(local_tier)

    assert found.manifests_rewritten == [newest.manifest_location]
    assert json.loads(Path(newest.manifest_location).read_text())["backup_uuid"] == str(aged_runs[-1].backup_uuid)
    assert found.orphan_manifests_removed == [oldest.manifest_location]
    assert not Path(oldest.manifest_location).exists()
    oldest.refresh_from_db()
    assert oldest.status == Artifact.Status.FAILED and "missing" in oldest.error
    code, report = run_json("sweep_catalog", "--tier", "local", "--actor", dba.username)
    assert code == 0 and report["tiers"][0]["orphan_manifests_removed"] == []


def test_an_s3_archive_move_takes_the_manifest_along(s3_tier, moto_s3, learning_db):
    s3_tier.retention.monthly_forever = True
    s3_tier.retention.keep_days = 7
    s3_tier.retention.save()
    now = timezone.now().replace(day=15, hour=12)
    with time_machine.travel(now - timedelta(days=40), tick=False):
        run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    before = run.artifacts.get(tier=s3_tier).manifest_location
    with time_machine.travel(now, tick=False):
        assert pipeline.backup(learning_db).status == "succeeded"

    report = apply_retention(s3_tier, now=now)

    artifact = run.artifacts.get(tier=s3_tier)
    assert report.errors == [] and artifact.pk in {d.copy_id for d in report.archived}
    assert artifact.location.startswith(s3_tier.archive_prefix)
    assert artifact.manifest_location == artifact.location + ".json"
    keys = {o["Key"] for o in moto_s3.list_objects_v2(Bucket=s3_tier.bucket)["Contents"]}
    assert artifact.manifest_location in keys and before not in keys
