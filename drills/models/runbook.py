"""What a drill rehearses: recovery scenarios with their runbooks and targets, who to call, and checklists.

All of it is configuration an Admin edits in the Django admin; the plan's content is seeded by migration 0002.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.urls import reverse

from backups.models import Restore


def minutes_label(minutes: int | None) -> str:
    """90 -> '1 h 30 min', 45 -> '45 min', 1440 -> '24 h'."""
    if minutes is None:
        return "–"
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


class Scenario(models.Model):
    """A kind of disaster from the plan, with its targets and the runbook that recovers from it."""

    class Priority(models.TextChoices):
        CRITICAL = "critical", "Critical"
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Operation(models.TextChoices):
        """The restore that performs the recovery (backups/restore.py and `manage.py restore`)."""

        NEW_DATABASE = "new_database", "Restore into a new database, check it, then switch"
        TABLES = "tables", "Restore the affected tables into a recovery database, then copy rows back"
        NEW_SERVER = "new_server", "Restore onto a new server (roles and tablespaces first)"
        REPLACE = "replace", "Replace production from a clean backup, keeping a forensic copy"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    summary = models.TextField(help_text="What happened, in one or two sentences.")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    rto_min_minutes = models.PositiveIntegerField(
        "RTO from (minutes)", null=True, blank=True, help_text="Lower end of the plan's range, if it gives one."
    )
    rto_minutes = models.PositiveIntegerField("RTO (minutes)", help_text="Recovered within this: the pass mark.")
    rpo_minutes = models.PositiveIntegerField("RPO (minutes)", help_text="At most this much data may be lost.")
    runbook = models.TextField(help_text="One step per line, in order.")
    runbook_version = models.PositiveIntegerField(
        default=1, help_text="Raised automatically when the runbook text changes in the admin."
    )
    operation = models.CharField(max_length=20, choices=Operation.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("drills:scenario", args=[self.slug])

    PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}

    @property
    def rank(self) -> int:
        return self.PRIORITY_RANK.get(self.priority, 9)

    @property
    def rto(self) -> timedelta:
        return timedelta(minutes=self.rto_minutes)

    @property
    def rpo(self) -> timedelta:
        return timedelta(minutes=self.rpo_minutes)

    @property
    def rto_label(self) -> str:
        if self.rto_min_minutes:
            return f"{minutes_label(self.rto_min_minutes)} – {minutes_label(self.rto_minutes)}"
        return f"< {minutes_label(self.rto_minutes)}"

    @property
    def rpo_label(self) -> str:
        return f"< {minutes_label(self.rpo_minutes)}"

    def steps(self) -> list[str]:
        return [line.strip() for line in self.runbook.splitlines() if line.strip()]

    @property
    def restore_mode(self) -> str:
        """The Restore.Mode a real recovery records (a new server is a new database on another server)."""
        return {
            self.Operation.TABLES: Restore.Mode.TABLES,
            self.Operation.REPLACE: Restore.Mode.REPLACE,
        }.get(self.operation, Restore.Mode.NEW_DATABASE)

    def restore_command(self, database_name: str = "DB") -> str:
        """The Lifeboat command that performs this recovery, for the runbook page."""
        base = "python manage.py restore RUN_ID"
        return {
            self.Operation.NEW_DATABASE: f"{base} --target-db {database_name}_recovery",
            self.Operation.TABLES: f"{base} --target-db {database_name}_recovery --table public.TABLE",
            self.Operation.NEW_SERVER: (f"{base} --target-dsn postgresql://USER@NEW-HOST:5432/postgres "
                                        f"--target-password-env NEW_DB_PASSWORD --target-db {database_name} "
                                        "--with-globals"),
            self.Operation.REPLACE: f"{base} --replace --target-db {database_name} --force --actor YOUR_USER",
        }[self.operation]


class Contact(models.Model):
    """Who to call, in escalation order (the plan's "Disaster Recovery Contacts" table)."""

    role = models.CharField(max_length=100, help_text="e.g. Database Admin, DevOps Lead, On-Call.")
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    escalation_order = models.PositiveSmallIntegerField(default=1, help_text="1 is called first.")
    on_call = models.BooleanField("on call now", default=False)

    class Meta:
        ordering = ["escalation_order", "role", "name"]

    def __str__(self) -> str:
        return f"{self.escalation_order}. {self.role}: {self.name}"


class ChecklistTemplate(models.Model):
    """A drill's checklist (monthly test, annual exercise) and the success criteria set before it runs."""

    name = models.CharField(max_length=100, unique=True)
    objective = models.TextField(blank=True)
    max_recovery_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Success criterion: recovered within this many minutes (empty: none)."
    )
    require_full_integrity = models.BooleanField(
        "requires 100% data integrity", default=True,
        help_text="Success criterion: every table's row count equals the backup's record.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    class Automation(models.TextChoices):
        """Items Lifeboat ticks by itself when the drill's restore finishes."""

        NONE = "", "Ticked by a person"
        BACKUP = "backup", "Ticked when the restore picks the latest backup"
        RESTORE = "restore", "Runs the real restore"
        INTEGRITY = "integrity", "Ticked when row counts match the backup's record"
        TIMING = "timing", "Ticked with the measured recovery time"

    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=1)
    text = models.CharField(max_length=300)
    automation = models.CharField(max_length=10, choices=Automation.choices, blank=True, default="")

    class Meta:
        ordering = ["template", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.text}"
