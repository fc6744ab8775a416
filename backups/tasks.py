"""django-q2 entry points: thin wrappers around the pipeline, so the CLI and the schedule share one path."""

from __future__ import annotations

import logging

from backups import pipeline
from backups.errors import AlreadyRunning
from backups.models import BackupRun, Database

log = logging.getLogger(__name__)


def scheduled_backup(database_id: int) -> int | None:
    database = Database.objects.get(pk=database_id)
    if not database.enabled:
        return None
    try:
        return pipeline.backup(database, trigger=BackupRun.Trigger.SCHEDULE).pk
    except AlreadyRunning as exc:
        log.warning("scheduled backup skipped: %s", exc)
        return None


def run_queued_backup(run_id: int) -> int | None:
    run = pipeline.claim(run_id)
    if run is None:  # another worker claimed it, or it was abandoned meanwhile
        return None
    return pipeline.execute(run).pk


def mark_abandoned_runs() -> int:
    return len(pipeline.mark_abandoned())
