"""A drill run and everything recorded during it: participants, checklist steps, notes, follow-ups, sign-off.

Status is derived (Drill.status(now)), never stored. A signed drill is locked: every model here refuses to be
saved or deleted once its drill has a SignOff, except the few fields listed in UNLOCKED_FIELDS (housekeeping that
the signed record does not cover). Corrections go in as new DrillNote rows, which are append-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from drills.errors import DrillLocked
from drills.models.runbook import ChecklistItem, ChecklistTemplate, Scenario, minutes_label

# A planned drill is "overdue" from the day after its date, and "missing" a week later with no result.
OVERDUE_AFTER = timedelta(days=1)
MISSING_AFTER = timedelta(days=7)
# A completed drill left unsigned this long is flagged.
UNSIGNED_AFTER = timedelta(days=7)


class Status(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    SIGNED_OFF = "signed_off", "Signed off"
    OVERDUE = "overdue", "Overdue"
    MISSING = "missing", "Missing"


class Outcome(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    PENDING = "pending", "Not measured yet"


@dataclass(frozen=True)
class Criterion:
    name: str
    target: str
    measured: str
    outcome: str

    @property
    def label(self) -> str:
        return Outcome(self.outcome).label


def seconds_label(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return minutes_label(round(seconds / 60))


def _signed(drill_id: int | None) -> bool:
    return drill_id is not None and SignOff.objects.filter(drill_id=drill_id).exists()


class LockedWithDrill(models.Model):
    """Refuses save() and delete() once the drill is signed, except for UNLOCKED_FIELDS-only updates."""

    UNLOCKED_FIELDS: frozenset[str] = frozenset()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        housekeeping = update_fields is not None and set(update_fields) <= self.UNLOCKED_FIELDS
        if not housekeeping and _signed(self.locking_drill_id()):
            raise DrillLocked("this drill is signed off and locked; add a note to correct it")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if _signed(self.locking_drill_id()):
            raise DrillLocked("this drill is signed off and locked; it cannot be deleted")
        return super().delete(*args, **kwargs)

    def locking_drill_id(self) -> int | None:
        return self.drill_id


class DrillQuerySet(models.QuerySet):
    def real(self) -> DrillQuerySet:
        """Simulated drills never count as real ones."""
        return self.filter(simulated=False)

    def completed(self) -> DrillQuerySet:
        return self.filter(completed_at__isnull=False)

    def not_started(self) -> DrillQuerySet:
        return self.filter(started_at__isnull=True, completed_at__isnull=True)

    def unsigned(self) -> DrillQuerySet:
        return self.filter(signoff__isnull=True)


class Drill(LockedWithDrill):
    """One DR drill: planned, run against a scenario and a database, measured, and signed off."""

    UNLOCKED_FIELDS = frozenset({"restored_dropped_at", "reminded_at"})

    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="drills")
    checklist = models.ForeignKey(ChecklistTemplate, on_delete=models.PROTECT, related_name="drills")
    database = models.ForeignKey("backups.Database", on_delete=models.PROTECT, related_name="drills")
    title = models.CharField(max_length=200, blank=True)
    planned_at = models.DateTimeField()
    simulated = models.BooleanField(
        default=False, help_text="A tabletop rehearsal: shown as simulated and never counted as a real drill."
    )
    # Targets and criteria, copied from the scenario and checklist when scheduled: set beforehand, not after.
    runbook_version = models.PositiveIntegerField()
    rto_target_minutes = models.PositiveIntegerField("RTO target (minutes)")
    rpo_target_minutes = models.PositiveIntegerField("RPO target (minutes)")
    max_recovery_minutes = models.PositiveIntegerField(null=True, blank=True)
    require_full_integrity = models.BooleanField(default=True)
    scheduled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField("declared at", null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # The real restore and what it measured.
    restore = models.ForeignKey("backups.Restore", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="drills")
    restored_database = models.CharField(max_length=63, blank=True)
    restored_dropped_at = models.DateTimeField(null=True, blank=True)
    restore_seconds = models.FloatField(null=True, blank=True, help_text="pg_restore alone.")
    recovery_seconds = models.FloatField(
        "measured RTO (seconds)", null=True, blank=True, help_text="From declared to restored data validated."
    )
    backup_age_seconds = models.FloatField(
        "achieved RPO (seconds)", null=True, blank=True, help_text="Age of the restored backup when it was chosen."
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    integrity = models.JSONField(default=dict, blank=True, help_text="{table: {expected, actual}}")
    integrity_ok = models.BooleanField(null=True, blank=True)
    deviations = models.TextField(blank=True, help_text="What went differently from the runbook.")
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When the reminder before it was sent.")

    objects = DrillQuerySet.as_manager()

    class Meta:
        ordering = ["-planned_at"]
        permissions = [
            ("conduct_drill", "Can schedule and conduct DR drills"),
            ("sign_off_drill", "Can sign DR drills off"),
        ]
        indexes = [
            # health.attention(): real drills by completion, and not-started drills by planned date.
            models.Index(fields=["simulated", "completed_at"], name="drill_real_completed_idx"),
            models.Index(fields=["simulated", "planned_at"], name="drill_real_planned_idx"),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.scenario} drill on {self.planned_at:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("drills:detail", args=[self.pk])

    def locking_drill_id(self) -> int | None:
        return self.pk

    # --- state ------------------------------------------------------------------------------------

    @property
    def is_signed(self) -> bool:
        try:
            return self.signoff is not None
        except SignOff.DoesNotExist:
            return False

    def status(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if self.is_signed:
            return Status.SIGNED_OFF
        if self.completed_at:
            return Status.COMPLETED
        if self.started_at:
            return Status.IN_PROGRESS
        if now < self.planned_at + OVERDUE_AFTER:
            return Status.PLANNED
        if now < self.planned_at + MISSING_AFTER:
            return Status.OVERDUE
        return Status.MISSING

    def status_label(self, now: datetime | None = None) -> str:
        return Status(self.status(now)).label

    @property
    def restore_active(self) -> bool:
        return self.restore is not None and self.restore.status in ("queued", "running")

    @property
    def recovery_in_flight(self) -> bool:
        """The restore is running, or has succeeded and its measurements are still being taken."""
        return self.restore_active or (self.restore is not None and self.restore.status == "succeeded"
                                       and self.validated_at is None)

    def unsigned_too_long(self, now: datetime) -> bool:
        return bool(self.completed_at) and not self.is_signed and now - self.completed_at > UNSIGNED_AFTER

    # --- measurements against targets -------------------------------------------------------------------

    def criteria(self) -> list[Criterion]:
        """Pass/fail per success criterion. Unmeasured criteria fail once the drill is completed."""
        missing = Outcome.FAIL if self.completed_at else Outcome.PENDING

        def within(seconds: float | None, limit_minutes: int) -> str:
            if seconds is None:
                return missing
            return Outcome.PASS if seconds <= limit_minutes * 60 else Outcome.FAIL

        found = [
            Criterion("Recovered within the scenario's RTO", f"≤ {minutes_label(self.rto_target_minutes)}",
                      seconds_label(self.recovery_seconds), within(self.recovery_seconds, self.rto_target_minutes)),
            Criterion("Restored backup within the scenario's RPO", f"≤ {minutes_label(self.rpo_target_minutes)}",
                      seconds_label(self.backup_age_seconds),
                      within(self.backup_age_seconds, self.rpo_target_minutes)),
        ]
        if self.max_recovery_minutes:
            found.append(Criterion(f"Recovery completed within {self.max_recovery_minutes} minutes",
                                   f"≤ {minutes_label(self.max_recovery_minutes)}",
                                   seconds_label(self.recovery_seconds),
                                   within(self.recovery_seconds, self.max_recovery_minutes)))
        if self.require_full_integrity:
            percent = self.integrity_percent
            found.append(Criterion(
                "100% data integrity", "every table's rows equal the backup's record",
                "–" if percent is None else f"{percent:g}% of tables match",
                missing if self.integrity_ok is None else (Outcome.PASS if self.integrity_ok else Outcome.FAIL)))
        steps = list(self.steps.all())
        open_steps = [s for s in steps if s.status != DrillStep.Status.DONE]
        found.append(Criterion("Every checklist item done", f"{len(steps)} items",
                               f"{len(steps) - len(open_steps)} done",
                               Outcome.PASS if not open_steps else missing if not self.completed_at
                               else Outcome.FAIL))
        return found

    def result(self) -> str:
        """pass / partial / fail, or pending while anything is still unmeasured."""
        outcomes = {c.outcome for c in self.criteria()}
        if Outcome.PENDING in outcomes:
            return "pending"
        if outcomes == {Outcome.PASS}:
            return "pass"
        return "fail" if Outcome.PASS not in outcomes else "partial"

    @property
    def integrity_percent(self) -> float | None:
        if not self.integrity:
            return None
        equal = sum(1 for c in self.integrity.values() if c.get("expected") == c.get("actual"))
        return round(100 * equal / len(self.integrity), 1)

    @property
    def measured_rto(self) -> str:
        return seconds_label(self.recovery_seconds)

    @property
    def achieved_rpo(self) -> str:
        return seconds_label(self.backup_age_seconds)

    def timeline(self) -> list[tuple[datetime, str]]:
        """Declared, backup chosen, restore started and done, data validated, completed, signed: what happened."""
        events: list[tuple[datetime | None, str]] = [(self.started_at, "drill declared")]
        if self.restore is not None:
            run = self.restore.artifact.run
            events += [(self.restore.created_at, f"backup chosen: run #{run.pk} of {run.started_at:%Y-%m-%d %H:%M}"),
                       (self.restore.started_at, f"restore started into {self.restore.target_database}"),
                       (self.restore.finished_at, f"restore {self.restore.status}")]
        events.append((self.validated_at, "data validated" if self.integrity_ok else "data checked: counts differ"))
        events += [(s.finished_at, f"step {s.position} {s.get_status_display().lower()}: {s.text}")
                   for s in self.steps.all() if s.finished_at]
        events.append((self.completed_at, "drill completed"))
        events.append((self.restored_dropped_at, f"restored database {self.restored_database} dropped"))
        if self.is_signed:
            events.append((self.signoff.signed_at, f"signed off by {self.signoff.signed_by}"))
        return sorted((at, text) for at, text in events if at is not None)


class Participant(LockedWithDrill):
    class Role(models.TextChoices):
        LEAD = "lead", "Lead"
        SCRIBE = "scribe", "Scribe"
        APPROVER = "approver", "Approver"
        ATTENDEE = "attendee", "Attendee"

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="drill_roles")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        ordering = ["drill", "role", "user__username"]
        constraints = [models.UniqueConstraint(fields=["drill", "user"], name="one_role_per_drill_participant")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display().lower()})"


class DrillStep(LockedWithDrill):
    """One checklist item as run in this drill (text copied, so later edits to the template do not rewrite it)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="steps")
    item = models.ForeignKey(ChecklistItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=300)
    automation = models.CharField(max_length=10, choices=ChecklistItem.Automation.choices, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ticked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["drill", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.text}: {self.status}"


class DrillNote(models.Model):
    """Append-only remarks during and after a drill; after sign-off, the only way to correct the record."""

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()
    after_sign_off = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on drill #{self.drill_id} by {self.author}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("drill notes are append-only: add a new note instead")
        super().save(*args, **kwargs)


class FollowUp(LockedWithDrill):
    """A finding and the action it needs. Its status may move on after sign-off; the rest is signed."""

    UNLOCKED_FIELDS = frozenset({"status", "updated_at"})

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_FIX = "wont_fix", "Won't fix"

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="follow_ups")
    finding = models.TextField()
    action = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="drill_actions")
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["drill", "due_date", "id"]

    def __str__(self) -> str:
        return f"{self.action[:60]} ({self.owner}, due {self.due_date})"


class SignOff(models.Model):
    """The approval, with the SHA-256 of the canonical drill record exactly as signed (drills/record.py)."""

    drill = models.OneToOneField(Drill, on_delete=models.PROTECT, related_name="signoff")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)
    statement = models.TextField()
    record_sha256 = models.CharField(max_length=64)
    record_json = models.TextField(help_text="The canonical record that was hashed and signed.")
    snapshot_json = models.TextField(
        blank=True, help_text="The configuration (scenario, database, targets, participants) as it was when signed.")

    def __str__(self) -> str:
        return f"sign-off of drill #{self.drill_id} by {self.signed_by}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise DrillLocked("a sign-off is never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise DrillLocked("a sign-off is never deleted")

    def record_intact(self) -> bool:
        """Does the drill, as stored now, still hash to what was signed?"""
        from drills.record import signed_record_sha256

        return signed_record_sha256(self) == self.record_sha256
