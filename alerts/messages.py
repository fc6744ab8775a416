"""The words of each message. Plain text with light Markdown, readable in Slack, Teams, e-mail and PagerDuty."""

from __future__ import annotations

from alerts.models import AlertEvent, Severity
from alerts.rules import dashboard_link
from backups.models import BackupRun

PREFIX = {AlertEvent.Change.FIRED: "", AlertEvent.Change.REMINDER: "Still failing: ",
          AlertEvent.Change.RESOLVED: "Resolved: "}


def for_event(event: AlertEvent) -> tuple[str, str]:
    alert = event.alert
    severity = Severity(alert.severity).label.upper()
    title = f"[{severity}] {PREFIX[AlertEvent.Change(event.change)]}{alert.title}"
    lines = [event.message]
    if event.change == AlertEvent.Change.REMINDER:
        lines.append(f"Open since {alert.opened_at:%Y-%m-%d %H:%M} UTC.")
    if alert.link:
        lines.append(dashboard_link(alert.link))
    return title, "\n".join(lines)


def for_success(run: BackupRun) -> tuple[str, str]:
    size = f"{run.size_bytes / 1_048_576:.1f} MiB" if run.size_bytes is not None else "unknown size"
    took = f"{run.duration.total_seconds():.1f} s" if run.duration else "unknown time"
    tiers = ", ".join(a.tier.name for a in run.artifacts.live().select_related("tier")) or "no tier"
    title = f"Backup of {run.database.name} succeeded"
    body = (f"Backup #{run.pk} of {run.database.name}: {size} in {took}, stored in {tiers} "
            f"(sha256 {run.sha256[:16]}…).\n{dashboard_link(run.get_absolute_url())}")
    return title, body


def for_test(channel_name: str, user_name: str) -> tuple[str, str]:
    return (f"Lifeboat test notification for {channel_name}",
            f"{user_name} sent this test from Lifeboat's alerts page. If you can read it, the channel works.")
