"""django-q2 schedules, registered idempotently (update_or_create by name)."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django_q.models import Schedule

from backups.models import Database
from backups.models.common import validate_cron

log = logging.getLogger(__name__)

# Periodic housekeeping every installation needs: name -> (function, cron).
MAINTENANCE = {
    # The reaper: every kind of job whose heartbeat stopped is abandoned and cleaned (backups/reaper.py).
    "lifeboat:mark-abandoned": ("backups.tasks.mark_abandoned_runs", "* * * * *"),
    # Jobs waiting for a slot of their server or tier go back to the queue (also when a job ends: slots.py).
    "lifeboat:requeue-waiting": ("backups.tasks.requeue_waiting", "* * * * *"),
    # What failures could not clean at the time: leftovers in tiers, .partial files, verification temp files,
    # stale multipart uploads (backups/leftovers.py).
    "lifeboat:sweep-leftovers": ("backups.tasks.sweep_leftovers", "*/15 * * * *"),
    # Archived copies whose restore from GLACIER / DEEP_ARCHIVE was asked for: checked and readable once restored.
    "lifeboat:cold-restores": ("backups.tasks.advance_cold_restores", "*/15 * * * *"),
    # The plan's weekly verification, Sunday 03:00 UTC: the newest copy in every tier is restored again.
    "lifeboat:verify-newest": ("backups.tasks.verify_newest_copies", "0 3 * * 0"),
    "lifeboat:cleanup-scratch": ("backups.tasks.cleanup_scratch_databases", "*/30 * * * *"),
    "lifeboat:bucket-drift": ("backups.tasks.check_bucket_drift_all", "15 4 * * *"),
    "lifeboat:apply-retention": ("backups.tasks.apply_retention_all", "45 4 * * *"),
    # Alerts: evaluate the rules (also run after every job), retry due notifications, prove the cluster runs.
    "alerts:evaluate": ("alerts.tasks.evaluate_alerts", "*/5 * * * *"),
    "alerts:send-due": ("alerts.tasks.send_due_notifications", "* * * * *"),
    "alerts:heartbeat": ("alerts.tasks.heartbeat", "* * * * *"),
    # Hourly: walk the whole audit chain, anchor its head outside the database, alarm when broken.
    "lifeboat:verify-audit-chain": ("audit.tasks.verify_audit_chain", "17 * * * *"),
    # Hourly: the past hour's audit events, closed into a segment, go to every off-host tier (audit/segments.py).
    "lifeboat:ship-audit-segments": ("audit.tasks.ship_audit_segments", "7 * * * *"),
    # Hourly: announce drills planned within LIFEBOAT_DRILL_REMINDER_HOURS, once each.
    "drills:reminders": ("alerts.tasks.send_drill_reminders", "5 * * * *"),
    # Auto-discovery: databases created on a discovering server are protected before the next runs.
    "lifeboat:discover-databases": ("backups.tasks.discover_databases", "50 * * * *"),
}


def sync_database_schedule(database: Database) -> Schedule | None:
    """The database's cron becomes (or stops being) a django-q2 CRON schedule named backup:<name>."""
    if not database.enabled:
        Schedule.objects.filter(name=database.schedule_name).delete()
        return None
    schedule, _ = Schedule.objects.update_or_create(
        name=database.schedule_name,
        defaults={
            "func": "backups.tasks.scheduled_backup",
            "args": repr((database.pk,)),
            "schedule_type": Schedule.CRON,
            "cron": database.placed_schedule,  # its own cron, or the time placed in its window
            "repeats": -1,
        },
    )
    return schedule


def remove_database_schedule(database: Database) -> None:
    Schedule.objects.filter(name=database.schedule_name).delete()


def ensure_maintenance_schedules() -> None:
    for name, (func, cron) in MAINTENANCE.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.CRON, "cron": cron, "repeats": -1}
        )


def sync_all() -> list[str]:
    """Register every database's schedule; one that cannot be scheduled (a row saved before its cron was checked)
    is logged, left as it was and reported in the returned problems, and the others are synced all the same."""
    ensure_maintenance_schedules()
    names, problems = set(), []
    for database in Database.objects.all():
        names.add(database.schedule_name)  # a schedule that cannot be synced keeps its last good registration
        try:
            validate_cron(database.placed_schedule)
            sync_database_schedule(database)
        except (ValidationError, ValueError) as exc:  # croniter's errors are ValueErrors
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            problems.append(f"{database.name}: schedule {database.schedule!r} not synced: {message}")
            log.error("%s", problems[-1])
    Schedule.objects.filter(name__startswith="backup:").exclude(name__in=names).delete()
    return problems
