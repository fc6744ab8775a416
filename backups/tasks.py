"""django-q2 entry points: thin wrappers around the pipeline, so the CLI and the schedule share one path."""

from __future__ import annotations

import logging

from django.utils import timezone

from audit import trail
from backups.engine import pipeline
from backups.errors import AlreadyRunning, LifeboatError
from backups.models import BackupRun, Database
from core import joblog

log = logging.getLogger(__name__)


def scheduled_backup(database_id: int) -> int | None:
    """The schedule's run: recorded as queued, then run here if its server's and tiers' slots are free, else
    left waiting (backups/engine/slots.py) to be queued again."""
    database = Database.objects.get(pk=database_id)
    if not database.enabled:
        return None
    try:
        run = pipeline.create_queued(database, trigger=BackupRun.Trigger.SCHEDULE)
    except AlreadyRunning as exc:
        log.warning("scheduled backup skipped: %s", exc)
        return None
    return run_queued_backup(run.pk)


def run_queued_backup(run_id: int) -> int | None:
    from backups.engine import slots

    run = BackupRun.objects.select_related("database").filter(pk=run_id, status=BackupRun.Status.QUEUED).first()
    if run is None:  # another worker took it, or it was abandoned meanwhile
        return None
    held = slots.backup_slots(run)
    if held is None:  # waiting: its page says for what; queued again when a slot frees
        return None
    with held:
        run = pipeline.claim(run_id)
        if run is None:
            return None
        # Whoever pressed "Back up now" is the actor of every event of this run (the schedule's runs: "system").
        with trail.acting_as(run.requested_by):
            return pipeline.execute(run).pk


def requeue_waiting() -> int:
    from backups.engine.slots import requeue_waiting as requeue

    return requeue()


def mark_abandoned_runs() -> int:
    """Every kind of job whose heartbeat stopped (backups, verifications, restores, exports): abandoned, cleaned."""
    from backups.reaper import reap

    return len(reap())


def sweep_leftovers() -> dict[str, int]:
    from backups.storage.leftovers import sweep_all

    return sweep_all()


def verify_artifact(artifact_id: int, verification_id: int | None = None) -> str:
    """A queued verification: run here once the slots of the server it restores on and of the tier it reads are
    free, else left waiting (backups/engine/slots.py) to be queued again; claimed with a conditional UPDATE, so a
    verification handed to two workers (woken and swept) runs once."""
    from backups.engine import slots
    from backups.models import Artifact, Verification

    artifact = Artifact.objects.select_related("run__database", "tier").get(pk=artifact_id)
    if verification_id is None:
        return _verify_claimed(artifact, None)
    queued = Verification.objects.filter(pk=verification_id, status=Verification.Status.QUEUED).first()
    if queued is None:  # another worker took it, or it was finished meanwhile
        return "not queued"
    queued.artifact = artifact
    held = slots.verification_slots(queued)
    if held is None:
        return "waiting"
    with held:
        if not Verification.objects.filter(pk=verification_id, status=Verification.Status.QUEUED).update(
                status=Verification.Status.RUNNING, waiting="", heartbeat_at=timezone.now()):
            return "not queued"
        return _verify_claimed(artifact, Verification.objects.select_related("requested_by").get(pk=verification_id))


def _verify_claimed(artifact, record) -> str:
    from backups.proof.verification import verify_artifact as verify

    asked_by = record.requested_by if record else None  # None: the weekly schedule, "system"
    with trail.acting_as(asked_by), joblog.job("verification", run_id=artifact.run_id,
                                               database=artifact.run.database.name, tier=artifact.tier.name,
                                               verification_id=record.pk if record else None):
        return verify(artifact, verification=record).status


def verify_newest_copies() -> int:
    """Weekly: re-verify the newest live copy of every database in every tier."""
    from backups.proof.verification import newest_copies

    queued = 0
    for artifact in newest_copies():
        queue_verification(artifact)
        queued += 1
    return queued


def queue_verification(artifact, user=None):
    from django_q.tasks import async_task

    from backups.models import Verification

    record = Verification.objects.create(artifact=artifact, requested_by=user)
    async_task("backups.tasks.verify_artifact", artifact.pk, record.pk,
               task_name=f"verify {artifact.run.database.name} #{artifact.run_id} in {artifact.tier.name}")
    return record


def cleanup_scratch_databases() -> int:
    from datetime import timedelta

    from backups.models import Database
    from backups.proof.verification import cleanup_stale_scratch, verification_server_for

    seen, dropped = set(), 0
    for database in Database.objects.all():
        server = verification_server_for(database)
        if server.dsn in seen:
            continue
        seen.add(server.dsn)
        try:
            dropped += len(cleanup_stale_scratch(server, timedelta(hours=1)))
        except Exception:  # an unreachable server must not stop the sweep of the others
            log.warning("scratch cleanup on %s failed", server.dsn, exc_info=True)
    return dropped


def queue_restore(artifact, target_database: str, *, tables=(), user=None):
    """A restore into a new database asked for from the dashboard: validated now, run by a worker."""
    from django_q.tasks import async_task

    from backups.models import Restore
    from backups.recovery.restore import refuse_existing_target, validate_request

    refuse_existing_target(artifact, target_database)  # said now, in the dashboard's words, not by the worker later
    parsed = validate_request(artifact, target_database, tables)
    record = Restore.objects.create(
        artifact=artifact, mode=Restore.Mode.TABLES if tables else Restore.Mode.NEW_DATABASE, requested_by=user,
        target_database=target_database, tables=[str(t) for t in parsed],
    )
    async_task("backups.tasks.run_restore", record.pk,
               task_name=f"restore {artifact.run.database.name} #{artifact.run_id} into {target_database}")
    return record


def queue_replace(artifact, typed_name: str, *, user=None) -> None:
    """Restore over production, asked for from the dashboard: the name typed again is checked now, the rest (forensic
    copy, named steps, undo on failure: backups/recovery/replace.py) runs in a worker."""
    from django_q.tasks import async_task

    from backups.errors import ConfigurationError

    production = artifact.run.database.dbname
    if typed_name != production:
        raise ConfigurationError(f"type the database's name, {production}, exactly to confirm"
                                 + (f" (you typed {typed_name!r})" if typed_name else ""))
    async_task("backups.tasks.run_replace", artifact.pk, typed_name, getattr(user, "pk", None),
               task_name=f"replace {artifact.run.database.name} with #{artifact.run_id}")


def run_replace(artifact_id: int, typed_name: str, user_id: int | None) -> str:
    from django.contrib.auth import get_user_model

    from backups.models import Artifact
    from backups.recovery.replace import replace

    artifact = Artifact.objects.select_related("run__database", "tier").get(pk=artifact_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with trail.acting_as(user), joblog.job("replace", run_id=artifact.run_id, database=artifact.run.database.name):
        return replace(artifact, confirm=typed_name, user=user).status


def run_restore(restore_id: int) -> str:
    from backups.engine import slots
    from backups.models import Restore

    queued = Restore.objects.select_related("artifact__run__database", "artifact__tier").filter(
        pk=restore_id, status=Restore.Status.QUEUED).first()
    if queued is None:
        return "not queued"
    held = slots.restore_slots(queued)
    if held is None:
        return "waiting"
    with held:
        return _run_claimed_restore(restore_id)


def _run_claimed_restore(restore_id: int) -> str:
    from backups.models import Restore
    from backups.recovery.restore import restore

    # Claimed with a conditional UPDATE: a request handed to two workers runs once.
    if not Restore.objects.filter(pk=restore_id, status=Restore.Status.QUEUED).update(status=Restore.Status.RUNNING,
                                                                                       waiting=""):
        return "not queued"
    record = Restore.objects.select_related("artifact__run__database", "artifact__tier", "requested_by").get(
        pk=restore_id)
    try:
        with trail.acting_as(record.requested_by), joblog.job("restore", run_id=record.artifact.run_id,
                                                               restore_id=record.pk,
                                                               database=record.artifact.run.database.name):
            return restore(record.artifact, record.target_database, tables=record.tables,
                           user=record.requested_by, record=record).status
    except LifeboatError as exc:  # refused before it started (e.g. the request became invalid): say so
        Restore.objects.filter(pk=restore_id).update(status=Restore.Status.FAILED, error=str(exc),
                                                     finished_at=timezone.now())
        return Restore.Status.FAILED


def queue_archived_restore(artifact, user=None):
    """The button on a run's page: shown as "restore requested" at once, asked of S3 by a worker."""
    from django_q.tasks import async_task

    from backups.catalog.cold import mark_requested

    mark_requested(artifact)
    async_task("backups.tasks.restore_archived_copy", artifact.pk, user.pk if user else None,
               task_name=f"restore archived copy #{artifact.pk} of {artifact.run.database.name} from "
                         f"{artifact.storage_class}")


def restore_archived_copy(artifact_id: int, user_id: int | None = None) -> str:
    """The same path as `restore_archived`: RestoreObject now; `advance_cold_restores` checks it once S3 is done."""
    from django.contrib.auth import get_user_model

    from backups.catalog.cold import advance
    from backups.models import Artifact

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    artifact = Artifact.objects.select_related("run__database", "tier").get(pk=artifact_id)
    if artifact.status != Artifact.Status.ARCHIVED:
        return artifact.status
    with trail.acting_as(user):
        return advance(artifact, actor=user).state


def advance_cold_restores() -> int:
    """Every 15 minutes: archived copies whose restore was asked for are checked and made readable once S3 has
    restored them; returns how many became readable."""
    from backups.catalog.cold import advance_requested

    return sum(copy.state == "readable" for copy in advance_requested())


def apply_retention_all() -> int:
    """Daily: apply every enabled tier's retention policy, then sweep its catalog (orphans, interrupted
    deletions); returns how many copies were deleted."""
    from backups.catalog.sweep import sweep_tier
    from backups.retention.applier import apply_retention, retention_tiers

    deleted = 0
    for tier in retention_tiers():
        try:
            deleted += len(apply_retention(tier).deleted)
            sweep_tier(tier)
        except LifeboatError:  # one unreachable tier must not stop the others
            log.warning("retention in tier %s failed", tier, exc_info=True)
    return deleted


def apply_retention_to_tier(tier_id: int, user_id: int | None = None) -> int:
    from django.contrib.auth import get_user_model

    from backups.models import Tier
    from backups.retention.applier import apply_retention

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with trail.acting_as(user):
        return len(apply_retention(Tier.objects.get(pk=tier_id), actor=user).deleted)


def check_bucket_drift_all() -> int:
    """Daily: compare every enabled S3 tier's bucket with its declared policy; returns how many drifted."""
    from backups.models import Feature, Tier
    from backups.storage.bucket_policy import check_drift

    tiers = Tier.objects.filter(enabled=True).that_can(Feature.BUCKET_POLICY)
    return sum(bool(check_drift(tier).differences) for tier in tiers)

def self_backup() -> str:
    from backups.catalog.selfbackup import daily_self_backup

    return daily_self_backup()["name"]


def discover_databases() -> dict:
    from backups.catalog.discovery import discover_all

    return discover_all()
