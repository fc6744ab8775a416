"""What proves a copy: restore tests into scratch databases (verifications) and restores."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from backups.models.common import Timed


class Verification(Timed, models.Model):
    """One restore test of an artifact into a scratch database."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"  # the backup failed its restore test
        # It could not run (verification server unreachable, worker killed): says nothing about the backup.
        ERROR = "error", "Could not run"
        ABANDONED = "abandoned", "Abandoned"
        # The backup holds what the restricted restore role may not create (an untrusted language, an event
        # trigger...): not proven here, and not a failed proof either.
        UNVERIFIABLE = "unverifiable", "Not verifiable here"

    # The outcomes that decide whether a copy is verified (ArtifactQuerySet.verified): the newest of these wins.
    # Any other status (queued, running, one that could not run or could not be proven here) counts neither way.
    DECIDED = (Status.PASSED, Status.FAILED)

    artifact = models.ForeignKey("Artifact", on_delete=models.CASCADE, related_name="verifications")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Written by the worker while it runs.")
    restore_seconds = models.FloatField(null=True, blank=True)
    scratch_database = models.CharField(max_length=63, blank=True)
    server = models.CharField(max_length=400, blank=True, help_text="Where the scratch database lived.")
    server_system_identifier = models.CharField(max_length=20, blank=True,
                                                help_text="The verification server's identity, as it reported it.")
    restored_as = models.CharField(max_length=63, blank=True, help_text="The role the restore ran as.")
    checks = models.JSONField(default=list, blank=True, help_text="[{name, ok, detail}]")
    table_counts = models.JSONField(default=dict, blank=True, help_text="{table: {expected, actual}}")
    error = models.TextField(blank=True)
    # Why a queued verification has not started: the slots of the server it restores on, or of the tier it reads,
    # are all taken (backups/engine/slots.py).
    waiting = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # ArtifactQuerySet.verified(): the newest passed or failed verification of an artifact.
            models.Index(fields=["artifact", "status"], name="verification_artifact_idx"),
        ]

    def __str__(self) -> str:
        return f"verification #{self.pk} of {self.artifact}: {self.status}"


class Restore(Timed, models.Model):
    """One restore of an artifact somewhere: who asked, what, where, how long, and how it ended."""

    class Mode(models.TextChoices):
        NEW_DATABASE = "new_database", "Into a new database"
        TABLES = "tables", "Selected tables into a recovery database"
        REPLACE = "replace", "Over the production database (forensic copy first)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned"

    artifact = models.ForeignKey("Artifact", on_delete=models.PROTECT, related_name="restores")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.NEW_DATABASE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_dsn = models.CharField(max_length=1000, blank=True, help_text="Target server, without secrets.")
    target_database = models.CharField(max_length=63)
    tables = models.JSONField(default=list, blank=True)
    with_globals = models.BooleanField(default=False)
    forensic_database = models.CharField(max_length=63, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Written by the worker while it runs.")
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)
    restored_as = models.CharField(max_length=63, blank=True, help_text="The role pg_restore ran as.")
    steps = models.JSONField(default=list, blank=True,
                             help_text="--replace: [{name, status, detail, at}] in the order they ran.")
    production_state = models.TextField(blank=True, help_text="--replace: production as found after the last step.")
    # Why a queued restore has not started: the slots it waits for (backups/engine/slots.py).
    waiting = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"restore #{self.pk} of {self.artifact} into {self.target_database}: {self.status}"
