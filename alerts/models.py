"""Alerts as state changes (like healthchecks' Flip), the channels they go to, and each delivery.

An `Alert` is one episode of a condition: it opens when the condition starts and is resolved when it ends.
Each change (fired, reminder, resolved) is an `AlertEvent` row; each message to a channel is a `Notification`
row with its attempts, so the alerts page and the audit trail read what really happened.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from backups.models import ENV_NAME_RE
from core.env import validate_secret_env


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"

    @classmethod
    def rank(cls, value: str) -> int:
        return [cls.INFO, cls.WARNING, cls.CRITICAL].index(cls(value))


class Kind(models.TextChoices):
    """What an alert is about. The last three are notifications that are not alerts."""

    BACKUP_FAILED = "backup_failed", "Backup failed"
    BACKUP_WARNINGS = "backup_warnings", "Backup succeeded with warnings"
    VERIFICATION_FAILED = "verification_failed", "Verification failed"
    VERIFICATION_ERROR = "verification_error", "Verification could not run"
    FRESHNESS = "freshness", "No good copy within the RPO"
    UPLOAD_FAILED = "upload_failed", "Upload to a tier failed"
    RETENTION_REFUSED = "retention_refused", "Retention refused to delete"
    DRILL_OVERDUE = "drill_overdue", "Drill overdue"
    DRILL_MISSING = "drill_missing", "Drill missing"
    DRILL_UNSIGNED = "drill_unsigned", "Drill not signed off"
    BUCKET_DRIFT = "bucket_drift", "S3 bucket drifted from its policy"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken", "Audit trail chain broken"
    DRILL_REMINDER = "drill_reminder", "Drill reminder"
    BACKUP_SUCCEEDED = "backup_succeeded", "Backup succeeded"
    TEST = "test", "Test notification"


# What a channel may choose to receive (success and test notifications have their own switches).
ALERT_KINDS = [k for k in Kind if k not in (Kind.BACKUP_SUCCEEDED, Kind.TEST)]


class Channel(models.Model):
    """Where notifications go: any apprise URL (slack://, pagerduty://, mailto://, msteams://, json://...)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(
        "apprise URL", max_length=1000, blank=True,
        help_text="e.g. slack://T000/B000/XXXX, pagerduty://INTEGRATION_KEY@API_KEY, mailtos://user:pass@host, "
                  "json://host/path. It holds a secret: prefer the environment variable below.",
    )
    url_env = models.CharField(
        "URL environment variable", max_length=100, blank=True,
        validators=[RegexValidator(ENV_NAME_RE, "An environment variable name, e.g. LIFEBOAT_SLACK_URL."),
                    validate_secret_env],
        help_text="Name of an environment variable holding the apprise URL (keeps the token out of the database).",
    )
    kinds = models.JSONField(
        default=list, blank=True, help_text="Alert kinds this channel receives; none selected means all of them."
    )
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING,
                                    help_text="Alerts below this severity are not sent here.")
    notify_success = models.BooleanField(
        "notify successful backups", default=False, help_text="Also send a message for every successful backup."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("send_test_notification", "Can send a test notification to a channel")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if bool(self.url) == bool(self.url_env):
            raise ValidationError("Give either an apprise URL or the environment variable holding one.")
        if self.url:
            import apprise

            if not apprise.Apprise().add(self.url):
                raise ValidationError({"url": "apprise does not understand this URL (see its list of services)."})
        unknown = set(self.kinds) - set(ALERT_KINDS)
        if unknown:
            raise ValidationError({"kinds": f"Unknown alert kinds: {', '.join(sorted(unknown))}"})

    def apprise_url(self) -> str:
        """The URL to send to, read at send time; raises ValueError with a one-line reason when missing."""
        if self.url:
            return self.url
        value = os.environ.get(self.url_env, "")
        if not value:
            raise ValueError(f"environment variable {self.url_env} (URL of channel {self.name}) is not set")
        return value

    def wants(self, kind: str, severity: str) -> bool:
        if kind == Kind.BACKUP_SUCCEEDED:
            return self.notify_success
        if kind == Kind.TEST:
            return True
        if kind == Kind.DRILL_REMINDER:  # asked for by the plan, so every channel gets it unless it picks kinds
            return not self.kinds or kind in self.kinds
        return (not self.kinds or kind in self.kinds) and Severity.rank(severity) >= Severity.rank(self.min_severity)


class AlertQuerySet(models.QuerySet):
    def open(self) -> AlertQuerySet:
        return self.filter(resolved_at__isnull=True)

    def resolved(self) -> AlertQuerySet:
        return self.filter(resolved_at__isnull=False)


class Alert(models.Model):
    """One episode of a condition, from the moment it started until it ended."""

    key = models.CharField(max_length=200, help_text="Identifies the condition, e.g. freshness:database:3:tier:1.")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=300)
    message = models.TextField(help_text="The condition as last seen.")
    link = models.CharField(max_length=300, blank=True, help_text="Page of the run, database or drill concerned.")
    database = models.ForeignKey("backups.Database", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="alerts")
    tier = models.ForeignKey("backups.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # A condition is open at most once: two evaluations racing cannot fire it twice.
            models.UniqueConstraint(fields=["key"], condition=Q(resolved_at__isnull=True),
                                    name="one_open_alert_per_key"),
        ]
        indexes = [
            # The alerts page: open alerts first, then history, newest first.
            models.Index(fields=["resolved_at", "-opened_at"], name="alert_resolved_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("alerts:detail", args=[self.pk])

    @property
    def status(self) -> str:
        return "open" if self.resolved_at is None else "resolved"

    @property
    def duration(self) -> timedelta:
        return (self.resolved_at or timezone.now()) - self.opened_at

    def reminder_due(self, now: datetime) -> bool:
        minutes = settings.LIFEBOAT_ALERT_REPEAT_MINUTES
        return self.resolved_at is None and minutes > 0 and now - self.last_notified_at >= timedelta(minutes=minutes)


class AlertEvent(models.Model):
    """A state change of an alert: the rows the history and the notifications are made of."""

    class Change(models.TextChoices):
        FIRED = "fired", "Fired"
        REMINDER = "reminder", "Still failing"
        RESOLVED = "resolved", "Resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    change = models.CharField(max_length=10, choices=Change.choices)
    created_at = models.DateTimeField(default=timezone.now)
    message = models.TextField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.alert.title}: {self.change}"


class NotificationQuerySet(models.QuerySet):
    def due(self, now: datetime) -> NotificationQuerySet:
        return self.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now)


class Notification(models.Model):
    """One message to one channel, with every attempt to deliver it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(AlertEvent, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="notifications")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    notify_type = models.CharField(max_length=10, default="info", help_text="apprise's info/success/warning/failure.")
    title = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The retry sweep: pending notifications whose next attempt is due.
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} to {self.channel}: {self.status}"


class Observation(models.Model):
    """The latest report of a pushed condition (retention refusal, bucket drift) that rules read later."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    tier = models.ForeignKey("backups.Tier", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=True)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    observed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key}: {'active' if self.active else 'clear'} at {self.observed_at:%Y-%m-%d %H:%M}"


class Heartbeat(models.Model):
    """A timestamp the qcluster writes every minute: /healthz knows the workers run, whatever the broker."""

    name = models.CharField(max_length=50, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, name: str = "qcluster", now: datetime | None = None) -> None:
        cls.objects.update_or_create(name=name, defaults={"beat_at": now or timezone.now()})

    @classmethod
    def age(cls, name: str = "qcluster", now: datetime | None = None) -> timedelta | None:
        row = cls.objects.filter(name=name).first()
        return (now or timezone.now()) - row.beat_at if row else None
