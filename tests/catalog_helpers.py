"""Helpers for the catalog tests: what a run looks like in a tier, and losing the dashboard's records."""

from __future__ import annotations

from backups.models import Artifact, BackupRun, Database, Restore, Tier, Verification

RUN_FIELDS = ("backup_uuid", "status", "started_at", "source_dsn", "pg_dump_version", "server_version",
              "raw_size_bytes", "size_bytes", "sha256", "row_counts", "snapshot_id", "globals_name",
              "globals_sha256", "app_schema_version")


def snapshot_in(run: BackupRun, tier: Tier | None = None) -> dict:
    """The facts an import must give back: the run's, its copy's (in `tier`, or its only one) and its database's."""
    run.refresh_from_db()
    artifact = run.artifacts.get(tier=tier) if tier else run.artifacts.get()
    return {"run": {f: getattr(run, f) for f in RUN_FIELDS},
            "artifact": {f: getattr(artifact, f) for f in ("location", "size_bytes", "sha256", "globals_location",
                                                           "manifest_location")},
            "database": {f: getattr(run.database, f) for f in ("name", "host", "port", "user", "dbname")}}


def forget_everything() -> None:
    """The dashboard's records are lost; the tier's files are not."""
    Restore.objects.all().delete()
    Verification.objects.all().delete()
    Artifact.objects.all().delete()
    BackupRun.objects.all().delete()
    Database.objects.all().delete()
