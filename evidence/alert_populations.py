"""The alerts app's populations: every alert episode of the period and every notification sent for it."""

from __future__ import annotations

from django.db.models import Q

from alerts.models import Alert, Notification
from evidence.period import Scope
from evidence.populations import Population, register, register_exception_source


def _alerts(scope: Scope):
    qs = Alert.objects.filter(opened_at__gte=scope.start, opened_at__lt=scope.end)
    if scope.databases:
        qs = qs.filter(database__name__in=scope.databases)
    return qs.order_by("id")


def _notifications(scope: Scope):
    qs = Notification.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.databases:
        qs = qs.filter(event__alert__database__name__in=scope.databases)
    return qs.order_by("id")


register(Population(
    "alerts", "Alerts: each episode of a condition (late backup, failed verification, drift...), opened and resolved",
    ("A1.2", "CC7.5", "A.8.13"),
    ("id", "key", "kind", "severity", "title", "message", "database__name", "tier__name", "opened_at",
     "last_notified_at", "resolved_at", "details"),
    _alerts,
    "alerts.Alert opened between start_inclusive and end_exclusive (UTC); with databases selected, only alerts "
    "about those databases (tier-wide alerts are then left out)",
))
register(Population(
    "alert_notifications", "Notifications sent for alerts (channel, outcome, attempts)", ("A1.2", "CC7.5"),
    ("id", "channel__name", "event__alert_id", "event__change", "kind", "severity", "title", "status", "attempts",
     "last_error", "created_at", "sent_at", "requested_by__username"),
    _notifications,
    "alerts.Notification created between start_inclusive and end_exclusive (UTC); with databases selected, only "
    "those about alerts of those databases",
))


def open_alert_exceptions(scope: Scope) -> list[dict[str, str]]:
    """Every alert still open when the package is made is an open exception (tier-wide ones always)."""
    alerts = Alert.objects.open().select_related("database", "tier").order_by("opened_at")
    if scope.databases:
        alerts = alerts.filter(Q(database__name__in=scope.databases) | Q(database__isnull=True))
    return [{"kind": f"alert open ({alert.severity})", "what": alert.title, "when": alert.opened_at.isoformat(),
             "detail": alert.message[:200]} for alert in alerts]


register_exception_source(open_alert_exceptions)
