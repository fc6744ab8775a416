"""Turn the rules' current conditions into alert state changes: fire, remind, resolve (healthchecks' up/down).

Every change is claimed with a conditional write (a partial unique constraint for firing, `UPDATE ... WHERE`
for reminders and resolutions), so two evaluations at once (a periodic task and an after-job receiver) never
send a message twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import delivery
from alerts.models import Alert, AlertEvent, Notification
from alerts.rules import Condition, current_conditions
from audit import trail
from core import joblog

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    fired: list[Alert] = field(default_factory=list)
    reminded: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.fired)} fired, {len(self.reminded)} reminded, {len(self.resolved)} resolved"


def evaluate(now: datetime | None = None) -> Evaluation:
    now = now or timezone.now()
    result = Evaluation()
    with joblog.job("alerts"):
        snapshot = current_conditions(now)
        open_alerts = {a.key: a for a in Alert.objects.open()}
        for key, condition in snapshot.conditions.items():
            alert = open_alerts.get(key)
            if alert is None:
                if fired := fire(condition, now):
                    result.fired.append(fired)
            elif alert.reminder_due(now) and remind(alert, condition, now):
                result.reminded.append(alert)
        for key, alert in open_alerts.items():
            if key not in snapshot.conditions and alert.kind not in snapshot.unknown_kinds and resolve(alert, now):
                result.resolved.append(alert)
    if result.fired or result.reminded or result.resolved:
        log.info("alerts evaluated: %s", result)
    return result


def fire(condition: Condition, now: datetime) -> Alert | None:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                key=condition.key, kind=condition.kind, severity=condition.severity, title=condition.title,
                message=condition.message, link=condition.link, database=condition.database, tier=condition.tier,
                details=condition.details, opened_at=now, last_notified_at=now,
            )
            event = AlertEvent.objects.create(alert=alert, change=AlertEvent.Change.FIRED, created_at=now,
                                              message=condition.message)
            trail.record("alert.fired", target=alert, summary=condition.title,
                         details={"key": alert.key, "kind": alert.kind, "severity": alert.severity,
                                  "message": alert.message})
            notifications = _notifications_for(event, "failure")
    except IntegrityError:  # another evaluation fired it a moment ago
        return None
    log.warning("alert fired: %s: %s", condition.title, condition.message, extra={"alert_id": alert.pk})
    delivery.queue(notifications)
    return alert


def remind(alert: Alert, condition: Condition, now: datetime) -> bool:
    with transaction.atomic():
        claimed = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True,
                                       last_notified_at=alert.last_notified_at).update(
            last_notified_at=now, message=condition.message, details=condition.details)
        if not claimed:
            return False
        alert.refresh_from_db()
        event = AlertEvent.objects.create(alert=alert, change=AlertEvent.Change.REMINDER, created_at=now,
                                          message=condition.message)
        notifications = _notifications_for(event, "failure")
    log.warning("alert still open: %s", alert.title, extra={"alert_id": alert.pk})
    delivery.queue(notifications)
    return True


def resolve(alert: Alert, now: datetime) -> bool:
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now):
            return False
        alert.refresh_from_db()
        message = f"Resolved after {_human(now - alert.opened_at)}: {alert.title}."
        event = AlertEvent.objects.create(alert=alert, change=AlertEvent.Change.RESOLVED, created_at=now,
                                          message=message)
        trail.record("alert.resolved", target=alert, summary=f"resolved: {alert.title}",
                     details={"key": alert.key, "kind": alert.kind, "opened_at": alert.opened_at})
        notifications = _notifications_for(event, "success")
    log.info("alert resolved: %s", alert.title, extra={"alert_id": alert.pk})
    delivery.queue(notifications)
    return True


def _notifications_for(event: AlertEvent, notify_type: str) -> list[Notification]:
    from alerts import messages

    alert = event.alert
    title, body = messages.for_event(event)
    return delivery.create(kind=alert.kind, severity=alert.severity, title=title, body=body,
                           notify_type=notify_type, event=event)


def _human(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"
