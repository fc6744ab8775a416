"""Send notifications through apprise, in django-q2 tasks, with retries and exponential backoff.

Each attempt is claimed by a conditional UPDATE that also sets the time of the next attempt (a lease): if the
worker dies mid-send, the retry sweep picks the notification up again once that time passes. Failures are
logged and recorded on the row; nothing here ever raises into a backup.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts.models import AlertEvent, Channel, Kind, Notification, Severity
from audit import trail
from core import joblog

log = logging.getLogger(__name__)


def create(*, kind: str, severity: str, title: str, body: str, notify_type: str,
           event: AlertEvent | None = None, channels: list[Channel] | None = None, user=None) -> list[Notification]:
    """One pending notification per channel that wants this kind and severity."""
    candidates = channels if channels is not None else Channel.objects.filter(enabled=True)
    return [Notification.objects.create(channel=c, event=event, kind=kind, severity=severity, title=title, body=body,
                                        notify_type=notify_type, requested_by=user)
            for c in candidates if channels is not None or c.wants(kind, severity)]


def queue(notifications: list[Notification]) -> None:
    """Hand each notification to a worker. If queueing fails, the retry sweep still finds the pending row."""
    from django_q.tasks import async_task

    for n in notifications:
        try:
            async_task("alerts.tasks.send_notification", n.pk, task_name=f"notify {n.channel.name} #{n.pk}")
        except Exception:
            log.exception("could not queue notification %s; the retry sweep will send it", n.pk)


def backoff(attempt: int) -> timedelta:
    """Wait after the n-th failed attempt: base, 2x base, 4x base... capped at one hour."""
    return timedelta(seconds=min(settings.LIFEBOAT_ALERT_RETRY_SECONDS * 2 ** (attempt - 1), 3600))


def send(notification_id: int, now: datetime | None = None) -> str:
    """One delivery attempt. Returns the notification's status afterwards ('gone' if it is not due)."""
    now = now or timezone.now()
    current = Notification.objects.filter(pk=notification_id).values_list("attempts", flat=True).first()
    if current is None:
        return "gone"
    attempt = current + 1
    claimed = Notification.objects.due(now).filter(pk=notification_id, attempts=current).update(
        attempts=attempt, next_attempt_at=now + backoff(attempt))
    if not claimed:  # sent already, given up, or another worker holds this attempt
        return "not due"
    n = Notification.objects.select_related("channel", "event__alert").get(pk=notification_id)
    with joblog.job("notify", notification_id=n.pk, channel=n.channel.name):
        ok, error = deliver(n.channel, n.title, n.body, n.notify_type)
        if ok:
            return _sent(n, now)
        return _failed(n, error, attempt)


def deliver(channel: Channel, title: str, body: str, notify_type: str) -> tuple[bool, str]:
    """Send through apprise; (ok, what apprise said when it failed). Never raises."""
    import apprise

    try:
        url = channel.apprise_url()
        asset = apprise.AppriseAsset(app_id="Lifeboat", app_desc="Lifeboat backups", storage_mode="memory")
        sender = apprise.Apprise(asset=asset)
        if not sender.add(url):
            return False, "apprise does not understand the channel's URL"
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = bool(sender.notify(body=body, title=title, notify_type=apprise.NotifyType(notify_type)))
        return ok, "" if ok else (captured.getvalue().strip() or "apprise reported a failure")
    except Exception as exc:  # a broken plugin or URL is recorded like any failed delivery
        log.exception("notification to %s raised", channel.name)
        return False, f"{exc.__class__.__name__}: {exc}"


def _sent(n: Notification, now: datetime) -> str:
    Notification.objects.filter(pk=n.pk).update(status=Notification.Status.SENT, sent_at=now, last_error="")
    trail.record("alert.sent", target=n, summary=f"{n.title} sent to {n.channel.name}",
                 details={"channel": n.channel.name, "kind": n.kind, "severity": n.severity,
                          "alert_id": n.event.alert_id if n.event else None, "attempts": n.attempts})
    log.info("notification sent to %s: %s (attempt %s)", n.channel.name, n.title, n.attempts)
    return Notification.Status.SENT


def _failed(n: Notification, error: str, attempt: int) -> str:
    if attempt >= settings.LIFEBOAT_ALERT_MAX_ATTEMPTS:
        Notification.objects.filter(pk=n.pk).update(status=Notification.Status.FAILED, last_error=error)
        trail.record("alert.send_failed", target=n, summary=f"{n.title} could not be sent to {n.channel.name}",
                     details={"channel": n.channel.name, "attempts": attempt, "error": error})
        log.error("notification to %s failed for good after %s attempts: %s", n.channel.name, attempt, error)
        return Notification.Status.FAILED
    Notification.objects.filter(pk=n.pk).update(last_error=error)
    log.warning("notification to %s failed (attempt %s of %s, next in %s): %s", n.channel.name, attempt,
                settings.LIFEBOAT_ALERT_MAX_ATTEMPTS, backoff(attempt), error)
    return Notification.Status.PENDING


def send_due(now: datetime | None = None) -> int:
    """The retry sweep: attempt every pending notification whose next attempt is due."""
    now = now or timezone.now()
    ids = list(Notification.objects.due(now).order_by("next_attempt_at").values_list("pk", flat=True)[:200])
    return sum(1 for pk in ids if send(pk, now) == Notification.Status.SENT)


def send_test(channel: Channel, user) -> Notification:
    from alerts import messages

    title, body = messages.for_test(channel.name, trail.actor_name(user))
    [notification] = create(kind=Kind.TEST, severity=Severity.INFO, title=title, body=body, notify_type="info",
                            channels=[channel], user=user)
    trail.record("alert.test_requested", actor=user, target=channel, summary=f"test notification to {channel.name}",
                 details={"notification_id": notification.pk})
    queue([notification])
    return notification


def notify_success(run) -> list[Notification]:
    """The plan's Slack message after a good backup, for channels that ask for it."""
    from alerts import messages

    wanting = [c for c in Channel.objects.filter(enabled=True) if c.wants(Kind.BACKUP_SUCCEEDED, Severity.INFO)]
    if not wanting:  # the message's dashboard link would load the whole URL conf for nobody
        return []
    title, body = messages.for_success(run)
    notifications = create(kind=Kind.BACKUP_SUCCEEDED, severity=Severity.INFO, title=title, body=body,
                           notify_type="success", channels=wanting)
    queue(notifications)
    return notifications

