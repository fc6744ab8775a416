"""Backup history made directly in the ORM, for evidence tests and the evidence bench (no pg_dump needed:
the export reads records, and the pipeline tests prove how records are made)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backups.models import Artifact, BackupRun, Database, Restore, RetentionPolicy, Tier, Verification, refresh_verdicts


def daily_history(name: str, first_day: date, days: int, *, fail_every: int = 0) -> Database:
    """One run a day at 02:00 UTC for `days` days, its local copy, and a restore test of each good run."""
    database = Database.objects.create(name=name, dbname=name)
    tier = Tier.objects.get(name="local")
    RetentionPolicy.objects.get_or_create(tier=tier, defaults={"keep_days": 30, "keep_last": 7,
                                                               "monthly_months": 12})
    runs, artifacts, checks = [], [], []
    for i in range(days):
        at = datetime.combine(first_day + timedelta(days=i), datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
        failed = bool(fail_every) and i % fail_every == fail_every - 1
        runs.append(BackupRun(
            database=database, status=BackupRun.Status.FAILED if failed else BackupRun.Status.SUCCEEDED,
            trigger=BackupRun.Trigger.SCHEDULE, created_at=at, started_at=at,
            finished_at=at + timedelta(seconds=40), pg_dump_version="15.8", server_version="15.8",
            size_bytes=None if failed else 123_456 + i, sha256="" if failed else f"{i:064x}",
            row_counts={} if failed else {"public.users": 250 + i},
            error="pg_dump: connection refused" if failed else "",
        ))
    BackupRun.objects.bulk_create(runs, batch_size=500)
    for run in BackupRun.objects.filter(database=database, status=BackupRun.Status.SUCCEEDED):
        artifacts.append(Artifact(run=run, tier=tier, location=f"/backups/{name}_{run.pk}.dump.zst",
                                  size_bytes=run.size_bytes, sha256=run.sha256, created_at=run.finished_at))
    Artifact.objects.bulk_create(artifacts, batch_size=500)
    for artifact in Artifact.objects.filter(run__database=database).select_related("run"):
        at = artifact.run.finished_at + timedelta(minutes=5)
        checks.append(Verification(artifact=artifact, status=Verification.Status.PASSED, created_at=at,
                                   started_at=at, finished_at=at + timedelta(seconds=30), restore_seconds=30.0,
                                   checks=[{"name": "row counts", "ok": True, "detail": "3 tables"}]))
    Verification.objects.bulk_create(checks, batch_size=500)
    refresh_verdicts(Artifact.objects.filter(run__database=database))  # bulk_create sends no post_save
    first = Artifact.objects.filter(run__database=database).order_by("id").first()
    if first is not None:
        Restore.objects.create(artifact=first, target_database=f"{name}_restored", status=Restore.Status.SUCCEEDED,
                               created_at=first.created_at + timedelta(days=1))
    return database
