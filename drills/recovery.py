"""A drill's real recovery: restore the latest good backup into a uniquely named database and measure it.

The restore is backups.recovery.restore.restore() (the same code a real recovery uses), run by a django-q2 worker, into
the verification server (LIFEBOAT_VERIFY_DSN, else the database's own server: the plan's "test environment").
Lifeboat then measures by itself: recovery time (declared -> data validated), the restored backup's age, and
integrity (exact row counts of the restored database against the backup run's recorded row_counts).
"""

from __future__ import annotations

import logging
import uuid

import psycopg
from django.db import transaction
from django.utils import timezone

from audit import trail
from backups.conninfo import ConnectionOptions
from backups.engine.snapshot import count_rows
from backups.errors import LifeboatError
from backups.models import Artifact, BackupRun, Restore
from backups.proof.verification import verification_server_for
from backups.recovery import restore_role
from backups.recovery.restore import drop_database, restore, validate_request
from drills import conduct
from drills.errors import DrillError, DrillLocked
from drills.models import Drill, DrillStep

log = logging.getLogger(__name__)


def latest_backup(database) -> Artifact | None:
    """The newest good run's live copy, preferring the local tier (the fastest to read)."""
    copies = (Artifact.objects.live().filter(run__database=database, run__status=BackupRun.Status.SUCCEEDED)
              .select_related("run__database", "tier").order_by("-run__started_at"))
    newest = copies.first()
    if newest is None:
        return None
    same_run = [a for a in copies if a.run_id == newest.run_id]
    return min(same_run, key=lambda a: a.tier.nearness)


def target_name(drill: Drill) -> str:
    return f"lifeboat_drill_{drill.pk}_{uuid.uuid4().hex[:8]}"


def queue_restore(drill: Drill, user) -> Restore:
    """Choose the latest backup, record a queued Restore into a new database, and hand it to a worker."""
    from django_q.tasks import async_task

    if drill.is_signed:
        raise DrillLocked("this drill is signed off and locked")
    if drill.simulated:
        raise DrillError("a simulated drill does not run a real restore")
    if drill.completed_at:
        raise DrillError("this drill is completed; schedule a new one to restore again")
    if drill.restore_active:
        raise DrillError("this drill's restore is already running")
    artifact = latest_backup(drill.database)
    if artifact is None:
        raise DrillError(f"{drill.database.name} has no good backup to restore: back it up first")
    server = verification_server_for(drill.database)
    name = target_name(drill)
    validate_request(artifact, name, target=server)
    conduct.start(drill, user)
    if drill.restored_database and not drill.restored_dropped_at:
        drop_restored_quietly(drill, user)  # a second attempt replaces the first one's database
    with transaction.atomic():
        record = Restore.objects.create(artifact=artifact, mode=Restore.Mode.NEW_DATABASE, requested_by=user,
                                        target_database=name, target_dsn=server.with_dbname(name).dsn)
        drill.restore = record
        drill.restored_database = name
        drill.restored_dropped_at = None
        drill.save(update_fields=["restore", "restored_database", "restored_dropped_at"])
    trail.record("drill.restore_queued", actor=user, target=drill,
                 summary=f"drill #{drill.pk}: restore of {drill.database.name} run #{artifact.run_id} "
                         f"({artifact.tier.name}) into {name} queued",
                 details={"restore": record.pk, "run": artifact.run_id, "artifact": artifact.pk,
                          "target": record.target_dsn})
    async_task("drills.tasks.run_drill_restore", drill.pk, record.pk,
               task_name=f"drill {drill.pk}: restore {drill.database.name} into {name}")
    return record


def run(drill_id: int, restore_id: int) -> str:
    """Worker side: claim the queued restore, run it, then measure the drill. Returns the restore's status."""
    if not Restore.objects.filter(pk=restore_id, status=Restore.Status.QUEUED).update(status=Restore.Status.RUNNING):
        return "not queued"
    record = Restore.objects.select_related("artifact__run__database", "artifact__tier", "requested_by").get(
        pk=restore_id)
    drill = Drill.objects.select_related("database", "scenario").get(pk=drill_id)
    server = verification_server_for(drill.database)
    with trail.acting_as(record.requested_by):  # the drill lead who pressed "Restore" acts in every event below
        return _run_claimed(drill, record, server)


def _run_claimed(drill: Drill, record: Restore, server) -> str:
    restore_id = record.pk
    try:
        record = restore(record.artifact, record.target_database, target=server, no_owner=True,
                         as_superuser=restore_role.verification_isolated(), user=record.requested_by, record=record)
    except LifeboatError as exc:  # refused before it began (say, the server became unreachable)
        Restore.objects.filter(pk=restore_id).update(status=Restore.Status.FAILED, error=str(exc),
                                                     finished_at=timezone.now())
        record.refresh_from_db()
    if record.status == Restore.Status.SUCCEEDED:
        measure(drill, record, server)
    else:
        failed = (DrillStep.Status.FAILED, f"restore failed: {record.error}")
        _mark_steps(drill, record.requested_by, {"restore": failed})
        trail.record("drill.restore_failed", actor=record.requested_by, target=drill,
                     summary=f"drill #{drill.pk}: restore failed: {record.error}"[:300],
                     details={"restore": record.pk, "error": record.error})
    return record.status


def measure(drill: Drill, record: Restore, server: ConnectionOptions) -> None:
    """Count every table of the restored database and set the drill's measurements."""
    expected = record.artifact.run.row_counts or {}
    if record.restored_as and record.restored_as != server.user:  # counted as the role that restored it
        server = restore_role.as_restore_role(server)
    try:
        with server.connect(dbname=record.target_database, autocommit=False, application_name="lifeboat-drill") as conn:
            actual = count_rows(conn)
    except (LifeboatError, psycopg.Error) as exc:
        actual = {}
        log.warning("drill %s: counting rows of %s failed: %s", drill.pk, record.target_database, exc)
    now = timezone.now()
    tables = sorted(set(expected) | set(actual))
    drill.integrity = {t: {"expected": expected.get(t), "actual": actual.get(t)} for t in tables}
    drill.integrity_ok = bool(expected) and all(expected.get(t) == actual.get(t) for t in tables)
    drill.validated_at = now
    drill.restore_seconds = record.duration.total_seconds() if record.duration else None
    drill.recovery_seconds = (now - (drill.started_at or record.created_at)).total_seconds()
    drill.backup_age_seconds = max(0.0, (record.created_at - record.artifact.run.started_at).total_seconds())
    drill.save(update_fields=["integrity", "integrity_ok", "validated_at", "restore_seconds", "recovery_seconds",
                              "backup_age_seconds"])
    run = record.artifact.run
    _mark_steps(drill, record.requested_by, {
        "backup": (DrillStep.Status.DONE, f"latest good backup: run #{run.pk} taken {run.started_at:%Y-%m-%d %H:%M} "
                                          f"UTC ({drill.achieved_rpo} old), {record.artifact.tier.name} copy"),
        "restore": (DrillStep.Status.DONE, f"restored into {record.target_database} in {drill.restore_seconds:.1f} s"),
        "integrity": (DrillStep.Status.DONE if drill.integrity_ok else DrillStep.Status.FAILED,
                      f"{drill.integrity_percent}% of {len(tables)} tables match the backup's row counts"),
        "timing": (DrillStep.Status.DONE, f"measured recovery time {drill.measured_rto} "
                                          f"(target {drill.rto_target_minutes} min)"),
    })
    trail.record("drill.recovery_measured", actor=record.requested_by, target=drill,
                 summary=f"drill #{drill.pk}: recovered in {drill.measured_rto}, backup {drill.achieved_rpo} old, "
                         f"integrity {'100%' if drill.integrity_ok else 'FAILED'}",
                 details={"restore": record.pk, "recovery_seconds": drill.recovery_seconds,
                          "restore_seconds": drill.restore_seconds, "backup_age_seconds": drill.backup_age_seconds,
                          "integrity_ok": drill.integrity_ok, "integrity": drill.integrity})


def _mark_steps(drill: Drill, user, outcomes: dict[str, tuple[str, str]]) -> None:
    """Tick the automated checklist steps (by the person who started the restore, noted as automated)."""
    now = timezone.now()
    for step in drill.steps.filter(automation__in=list(outcomes), status=DrillStep.Status.PENDING):
        status, note = outcomes[step.automation]
        step.status, step.ticked_by, step.finished_at = status, user, now
        step.started_at = step.started_at or (drill.restore.created_at if drill.restore else now)
        step.notes = f"{step.notes}\nautomated: {note}".strip()
        step.save(update_fields=["status", "ticked_by", "started_at", "finished_at", "notes"])


def drop_restored(drill: Drill, user) -> None:
    """Drop the drill's restored database (it held a copy of production data only to prove the restore)."""
    if not drill.restored_database or drill.restored_dropped_at:
        raise DrillError("this drill has no restored database to drop")
    if drill.restore_active:
        raise DrillError("the restore is still running; drop its database when it has finished")
    server = verification_server_for(drill.database)
    try:
        drop_database(server, drill.restored_database)
    except LifeboatError as exc:
        raise DrillError(f"could not drop {drill.restored_database}: {exc}") from None
    drill.restored_dropped_at = timezone.now()
    drill.save(update_fields=["restored_dropped_at"])
    trail.record("drill.restored_database_dropped", actor=user, target=drill,
                 summary=f"drill #{drill.pk}: restored database {drill.restored_database} dropped",
                 details={"database": drill.restored_database})


def drop_restored_quietly(drill: Drill, user) -> bool:
    """On completion: drop if there is something to drop; a failure is logged and the drop button stays."""
    if not drill.restored_database or drill.restored_dropped_at:
        return False
    try:
        drop_restored(drill, user)
        return True
    except DrillError as exc:
        log.warning("drill %s: %s", drill.pk, exc)
        return False
