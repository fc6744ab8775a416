"""The reminder before a drill: once, LIFEBOAT_DRILL_REMINDER_HOURS ahead, through the alert channels.

A reminder is a notification, not an alert: nothing is wrong yet, so nothing "resolves" later. Each drill is
claimed with a conditional UPDATE on reminded_at, so two workers never remind twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts import delivery
from alerts.models import Kind, Severity
from audit import trail
from drills.models import Drill


def due_for_reminder(now: datetime):
    horizon = now + timedelta(hours=settings.LIFEBOAT_DRILL_REMINDER_HOURS)
    return (Drill.objects.real().not_started().filter(reminded_at__isnull=True, planned_at__gt=now,
                                                      planned_at__lte=horizon)
            .select_related("scenario", "database").prefetch_related("participants__user"))


def send_due_reminders(now: datetime | None = None) -> int:
    now = now or timezone.now()
    sent = 0
    for drill in due_for_reminder(now):
        if not Drill.objects.filter(pk=drill.pk, reminded_at__isnull=True).update(reminded_at=now):
            continue  # another worker reminded it
        people = ", ".join(str(p) for p in drill.participants.all()) or "nobody named yet"
        title = f"DR drill on {drill.planned_at:%Y-%m-%d %H:%M} UTC: {drill}"
        body = (f"{drill.scenario} drill of {drill.database} is planned for {drill.planned_at:%A %Y-%m-%d %H:%M} "
                f"UTC. Participants: {people}. RTO target {drill.rto_target_minutes} min, RPO target "
                f"{drill.rpo_target_minutes} min.")
        notifications = delivery.create(kind=Kind.DRILL_REMINDER, severity=Severity.INFO, title=title, body=body,
                                        notify_type="info")
        delivery.queue(notifications)
        trail.record("drill.reminder_sent", target=drill, summary=f"reminder sent for {drill}",
                     details={"planned_at": drill.planned_at, "channels": [n.channel.name for n in notifications]})
        sent += 1
    return sent
