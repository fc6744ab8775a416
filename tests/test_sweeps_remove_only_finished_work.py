"""The sweeps remove what dead or finished jobs left, never the files of a job still running (another worker host
may be writing into the same directory): `.partial` files, verification temp files, scratch databases, stale
multipart uploads; and the reaper also abandons evidence exports whose worker died."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Verification
from backups.proof.verification import SCRATCH_PREFIX, cleanup_stale_scratch
from backups.reaper import reap
from backups.storage import leftovers
from backups.storage.s3 import S3Storage
from evidence.export import export_path
from evidence.models import EvidenceExport


def _touch(path, age_hours: float = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a dump")
    if age_hours:
        stamp = time.time() - age_hours * 3600
        os.utime(path, (stamp, stamp))
    return path


def test_partial_files_are_swept_only_when_their_run_is_over(db, local_tier, backup_root):
    database = Database.objects.create(name="sw", dbname="sw")
    running = BackupRun.objects.create(database=database, status=BackupRun.Status.RUNNING)
    failed = BackupRun.objects.create(database=database, status=BackupRun.Status.FAILED)
    keep = [_touch(backup_root / f"a.dump.zst.run-{running.pk}.partial"), _touch(backup_root / "young.partial")]
    gone = [_touch(backup_root / f"b.dump.zst.run-{failed.pk}.partial"),
            _touch(backup_root / ".staging" / "c.globals.sql.run-999999.partial"),
            _touch(backup_root / "old.partial", age_hours=7)]

    assert sorted(leftovers.sweep_partials()) == sorted(gone)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)


def test_temp_files_of_verifications_that_no_longer_run_are_swept(db, tmp_path, settings):
    settings.LIFEBOAT_VERIFY_TMP = str(tmp_path)
    database = Database.objects.create(name="sw", dbname="sw")
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED)
    from backups.models import Tier

    artifact = Artifact.objects.create(run=run, tier=Tier.objects.get(name="local"), location="/x")
    running = Verification.objects.create(artifact=artifact, status=Verification.Status.RUNNING)
    killed = Verification.objects.create(artifact=artifact, status=Verification.Status.ABANDONED)
    kept = _touch(tmp_path / f"lifeboat-verify-{running.pk}-toc-abc.dump")
    swept = _touch(tmp_path / f"lifeboat-verify-{killed.pk}-toc-def.dump")

    assert leftovers.sweep_verify_temp() == [swept]
    assert kept.exists() and not swept.exists()


def test_scratch_databases_of_finished_verifications_go_running_ones_stay(db, pg_server):
    database = Database.objects.create(name="sw", dbname="sw")
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED)
    from backups.models import Tier

    artifact = Artifact.objects.create(run=run, tier=Tier.objects.get(name="local"), location="/x")
    names = {}
    for status in (Verification.Status.RUNNING, Verification.Status.ABANDONED):
        name = f"{SCRATCH_PREFIX}{int(time.time())}_{run.pk}_{os.urandom(3).hex()}"
        with pg_server.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        Verification.objects.create(artifact=artifact, status=status, scratch_database=name)
        names[status] = name
    try:
        dropped = cleanup_stale_scratch(pg_server.target, timedelta(hours=1))
        assert dropped == [names[Verification.Status.ABANDONED]]  # an hour had not passed: its row said so
        assert pg_server.database_exists(names[Verification.Status.RUNNING])
    finally:
        for name in names.values():
            pg_server.drop_database(name)


def test_stale_multipart_uploads_are_aborted_by_age(s3_tier, moto_s3, settings):
    moto_s3.create_multipart_upload(Bucket=s3_tier.bucket, Key="backups/forgotten.dump.zst")
    initiated = moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket)["Uploads"][0]["Initiated"]
    age_hours = (timezone.now() - initiated).total_seconds() / 3600  # moto reports a fixed date in the past
    settings.LIFEBOAT_S3_STALE_UPLOAD_HOURS = int(age_hours) + 2
    assert leftovers.abort_stale_uploads() == 0  # younger than the limit: may be a running upload
    settings.LIFEBOAT_S3_STALE_UPLOAD_HOURS = int(age_hours) - 2
    assert leftovers.abort_stale_uploads() == 1
    assert S3Storage(s3_tier).open_uploads() == []


def test_an_evidence_export_whose_worker_died_is_abandoned_and_its_partial_removed(db, tmp_path, settings):
    settings.LIFEBOAT_EVIDENCE_DIR = tmp_path
    old = timezone.now() - timedelta(seconds=settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS + 5)
    export = EvidenceExport.objects.create(requested_by_name="audrey", since=old.date(), until=old.date(),
                                           status=EvidenceExport.Status.RUNNING, started_at=old, heartbeat_at=old)
    alive = EvidenceExport.objects.create(requested_by_name="audrey", since=old.date(), until=old.date(),
                                          status=EvidenceExport.Status.RUNNING, started_at=old,
                                          heartbeat_at=timezone.now())
    partial = _touch(export_path(export).with_name(export_path(export).name + ".partial"))

    reaped = reap()

    assert [e.pk for e in reaped.others] == [export.pk]
    export.refresh_from_db()
    alive.refresh_from_db()
    assert export.status == EvidenceExport.Status.ABANDONED and "no heartbeat since" in export.error
    assert alive.status == EvidenceExport.Status.RUNNING
    assert not partial.exists()
    assert not export.mark_done("/x", 1, "0" * 64)  # an abandoned export never becomes done
    export.refresh_from_db()
    assert export.status == EvidenceExport.Status.ABANDONED


def test_a_restore_claimed_by_a_worker_that_died_before_it_began_is_abandoned(db, settings):
    from backups.models import Restore, Tier

    database = Database.objects.create(name="sw", dbname="sw")
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED)
    artifact = Artifact.objects.create(run=run, tier=Tier.objects.get(name="local"), location="/x")
    old = timezone.now() - timedelta(seconds=settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS + 5)
    # As tasks.run_restore leaves it: claimed (running), no start time and no heartbeat yet.
    claimed = Restore.objects.create(artifact=artifact, status=Restore.Status.RUNNING, target_database="sw_copy",
                                     created_at=old)
    fresh = Restore.objects.create(artifact=artifact, status=Restore.Status.RUNNING, target_database="sw_copy2")

    assert [r.pk for r in reap().restores] == [claimed.pk]
    claimed.refresh_from_db()
    fresh.refresh_from_db()
    assert claimed.status == Restore.Status.ABANDONED and "no heartbeat ever" in claimed.error
    assert fresh.status == Restore.Status.RUNNING


def test_an_abandoned_backup_leaves_no_unrecorded_object_or_upload_in_s3(db, local_tier, s3_tier, moto_s3, settings,
                                                                        backup_root):
    from backups.engine.pipeline import artifact_stem

    database = Database.objects.create(name="sw", dbname="sw_not_there")
    database.tiers.set([local_tier, s3_tier])
    old = timezone.now() - timedelta(seconds=settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS + 5)
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.RUNNING, started_at=old,
                                   heartbeat_at=old)
    stem = artifact_stem(database, old)
    partial = _touch(backup_root / f"{stem}.globals.sql.run-{run.pk}.partial")
    dump = _touch(backup_root / f"{stem}.dump.zst")  # written, then the worker was killed mid-upload
    for _ in range(2):  # two versions of the dump object: uploaded, never recorded
        moto_s3.put_object(Bucket=s3_tier.bucket, Key=f"backups/{stem}.dump.zst", Body=b"dump")
    moto_s3.create_multipart_upload(Bucket=s3_tier.bucket, Key=f"backups/{stem}.globals.sql")

    assert [r.pk for r in reap().runs] == [run.pk]

    assert not partial.exists() and not dump.exists()
    versions = moto_s3.list_object_versions(Bucket=s3_tier.bucket)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []
