"""django-q2 entry points for alerts and monitoring: thin wrappers around the modules that do the work."""

from __future__ import annotations

from alerts import delivery, engine
from alerts.models import Heartbeat


def evaluate_alerts() -> str:
    """Every five minutes (and after every job): fire, remind and resolve alerts."""
    return str(engine.evaluate())


def send_notification(notification_id: int) -> str:
    return delivery.send(notification_id)


def send_due_notifications() -> int:
    """Every minute: retry the notifications whose backoff has passed."""
    return delivery.send_due()


def heartbeat() -> None:
    """Every minute: proves to /healthz that the cluster runs scheduled tasks, whatever the broker."""
    Heartbeat.beat("qcluster")


def send_drill_reminders() -> int:
    from alerts.drill_reminders import send_due_reminders

    return send_due_reminders()
