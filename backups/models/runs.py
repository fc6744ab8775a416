"""One pg_dump (a run) and its copies in tiers, and the freshness they give a database."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.urls import reverse
from django.utils import timezone

from backups.models.common import Timed
from backups.models.tiers import Tier

run_log = logging.getLogger("lifeboat.run")


class Freshness(models.TextChoices):
    OK = "ok", "OK"
    DUE = "due", "Due soon"
    LATE = "late", "Late"
    NEVER = "never", "Never"


def freshness_of(counted_started_at: datetime | None, rpo: timedelta, now: datetime) -> tuple[str, timedelta | None]:
    """The freshness rule, said once: (status, age) of the copy that counts, from when its run started.

    None (no copy counts) is never; older than the RPO is late; older than 80% of it is due; else ok. Both the
    model path (FreshnessReport.evaluate, from Artifact instances) and the overview's matrix (from plain rows)
    call this; neither keeps a copy of the rule.
    """
    if counted_started_at is None:
        return Freshness.NEVER, None
    age = now - counted_started_at
    if age > rpo:
        return Freshness.LATE, age
    if age > rpo * 0.8:
        return Freshness.DUE, age
    return Freshness.OK, age


@dataclass(frozen=True, slots=True)
class FreshnessReport:
    status: str
    # The newest good copy, verified or not: an Artifact, or in the overview's matrix a plain row with the same
    # attributes a cell reads (backups.web.overview.CopyRow: pk, run_id, size_bytes, verdict, run.started_at, ...).
    newest: Artifact | None
    age: timedelta | None  # age of the copy that counts (the newest verified one where verification is required)
    verdict: str | None = None  # the newest good copy's newest decided Verification.Status: passed, failed or None

    @property
    def label(self) -> str:
        return Freshness(self.status).label

    @property
    def verified(self) -> bool:
        """Whether the newest good copy's newest decided verification passed."""
        return self.verdict == "passed"

    @property
    def failed_verification(self) -> bool:
        return self.verdict == "failed"

    @classmethod
    def evaluate(cls, *, newest: Artifact | None, newest_verified: Artifact | None, require_verified: bool,
                 rpo: timedelta, now: datetime, newest_verdict: str | None = None) -> FreshnessReport:
        counted = newest_verified if require_verified else newest
        status, age = freshness_of(counted.run.started_at if counted is not None else None, rpo, now)
        return cls(status, newest, age, newest_verdict)


class BackupRunQuerySet(models.QuerySet):
    def good(self) -> BackupRunQuerySet:
        return self.filter(status=BackupRun.Status.SUCCEEDED)

    def active(self) -> BackupRunQuerySet:
        return self.filter(status__in=BackupRun.ACTIVE)

    def with_warnings(self) -> BackupRunQuerySet:
        """Succeeded runs that lack a part they should have ("succeeded with warnings")."""
        return self.good().exclude(warnings=[])


class BackupRun(Timed, models.Model):
    """One pg_dump of one database, and everything we learnt while taking it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual (dashboard)"
        CLI = "cli", "Command line"
        API = "api", "API (token)"
        IMPORT = "import", "Imported from a catalog"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    database = models.ForeignKey("Database", on_delete=models.PROTECT, related_name="runs")
    # The run's identity outside this dashboard: written in every manifest, matched by import_catalog.
    backup_uuid = models.UUIDField("backup UUID", default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.CLI)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    source_dsn = models.CharField(max_length=1000, blank=True)
    pg_dump_version = models.CharField(max_length=100, blank=True)
    server_version = models.CharField(max_length=100, blank=True)
    raw_size_bytes = models.BigIntegerField(null=True, blank=True, help_text="pg_dump output, uncompressed.")
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="Stored artifact (zstd).")
    sha256 = models.CharField(max_length=64, blank=True)
    bytes_done = models.BigIntegerField(default=0, help_text="Progress: pg_dump bytes read so far.")
    row_counts = models.JSONField(default=dict, blank=True, help_text="Exact rows per table at snapshot time.")
    snapshot_id = models.CharField(max_length=64, blank=True)
    globals_name = models.CharField(max_length=300, blank=True)
    globals_sha256 = models.CharField(max_length=64, blank=True)
    app_schema_version = models.CharField(max_length=300, blank=True)
    # A flag on a succeeded run, not a status of its own: what the run lacks (say, its globals file). The dump is
    # good and counts for freshness; the run reads "succeeded with warnings" and a warning alert is raised.
    warnings = models.JSONField(default=list, blank=True, help_text="Parts this run lacks, one line each.")
    # Who the source was, asked of its server at dump time (see backups/recovery/identity.py).
    server_system_identifier = models.CharField(max_length=20, blank=True)
    server_port_seen = models.PositiveIntegerField(null=True, blank=True)
    database_oid = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)
    # Why a queued run has not started: the slots it waits for (backups/engine/slots.py); empty once it runs.
    waiting = models.CharField(max_length=300, blank=True)

    objects = BackupRunQuerySet.as_manager()

    class Meta:
        permissions = [
            ("run_operations", "Can back up now, verify, and restore into a new database"),
            ("replace_database", "Can restore over a production database (after a forensic copy)"),
            ("manage_storage", "Can apply bucket policies and retention, and take RDS snapshots"),
        ]
        ordering = ["-created_at"]
        constraints = [
            # At most one backup per database is queued or running: enforced here, not by hope.
            models.UniqueConstraint(
                fields=["database"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_backup_per_database",
            ),
        ]
        indexes = [
            # History of one database: its newest runs.
            models.Index(fields=["database", "-created_at"], name="run_db_created_idx"),
            # Overview matrix: a database's newest *good* run with a copy in a tier. It replaces (status,
            # created_at), which PostgreSQL preferred and then walked every good run of every database looking
            # for one of a database that has none yet (60 ms at 100,000 runs).
            models.Index(fields=["database", "status", "-created_at"], name="run_db_status_created_idx"),
            # History's first page, all databases: ORDER BY created_at DESC, id DESC LIMIT 50 without a sort.
            models.Index(fields=["-created_at", "-id"], name="run_created_idx"),
            # When a copy was taken as retention sees it (retention.preview.TAKEN): the tier page finds a database's
            # newest copies and each month's first ones by walking the first index with LIMIT, and a page of the
            # retention preview (oldest first) by walking the second, instead of sorting every copy of the tier.
            models.Index(models.F("database"), Coalesce("started_at", "created_at"), name="run_db_taken_idx"),
            models.Index(Coalesce("started_at", "created_at"), name="run_taken_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.database} {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("backups:run_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def has_warnings(self) -> bool:
        return self.status == self.Status.SUCCEEDED and bool(self.warnings)

    @property
    def status_label(self) -> str:
        return "Succeeded with warnings" if self.has_warnings else self.get_status_display()

    def add_warning(self, text: str) -> None:
        """Record a part the run lacks; saved with the run."""
        self.warnings = [*self.warnings, text]
        self.append_log(f"WARNING: {text}")

    def append_log(self, line: str) -> None:
        stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        self.log = f"{self.log}[{stamp}] {line}\n"
        run_log.info("%s", line, extra={"run_id": self.pk})  # the process logs follow the run too

    def mark_failed(self, error: str) -> bool:
        """queued/running -> failed, conditionally: a run the reaper abandoned meanwhile stays abandoned."""
        error = error.strip()
        self.append_log(f"FAILED: {error}")
        now = timezone.now()
        if BackupRun.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
                status=self.Status.FAILED, error=error, finished_at=now, log=self.log):
            self.status, self.error, self.finished_at = self.Status.FAILED, error, now
            return True
        self.refresh_from_db(fields=["status", "error", "finished_at"])
        BackupRun.objects.filter(pk=self.pk).update(log=self.log)
        return False

    def mark_abandoned(self, reason: str) -> None:
        self.status = self.Status.ABANDONED
        self.error = reason
        self.finished_at = timezone.now()
        self.append_log(f"ABANDONED: {reason}")
        self.save(update_fields=["status", "error", "finished_at", "log"])


class ArtifactQuerySet(models.QuerySet):
    def live(self) -> ArtifactQuerySet:
        """Copies that exist in storage: stored and not deleted by retention."""
        return self.filter(status=Artifact.Status.STORED, deleted_at__isnull=True)

    def with_verdict(self) -> ArtifactQuerySet:
        """Annotate `verdict`: the status of the copy's newest decided verification ('passed' / 'failed'), None
        when none decided. A verification that is queued, running or could not run (error) counts neither way.
        Read from the copy's last_verdict column (kept equal to newest_verdict(), see refresh_verdicts): no
        subquery per copy."""
        return self.annotate(verdict=NullIf("last_verdict", Value("")))

    def verified(self) -> ArtifactQuerySet:
        """Copies whose newest decided verification passed: a copy that passed once and failed since is not."""
        return self.filter(last_verdict=VERDICT_PASSED)


VERDICT_PASSED = "passed"  # Verification.Status.PASSED (proofs import this module)


def refresh_verdicts(artifacts: models.QuerySet | None = None) -> int:
    """Recompute Artifact.last_verdict from the verifications (all copies, or those given); returns the rows updated."""
    artifacts = Artifact.objects.all() if artifacts is None else artifacts
    return artifacts.update(last_verdict=Coalesce(newest_verdict(), Value("")))


def newest_verdict() -> Subquery:
    """'passed' / 'failed' / None: the newest decided verification of the artifact OuterRef("pk").
    Said once here; the copy keeps it in last_verdict, by which freshness, the overview, retention, /metrics and
    the history all decide "verified"."""
    from backups.models.proofs import Verification

    decided = Verification.objects.filter(artifact=OuterRef("pk"), status__in=Verification.DECIDED)
    return Subquery(decided.order_by("-created_at", "-pk").values("status")[:1])


class Artifact(models.Model):
    """One copy of a run in one tier."""

    class Status(models.TextChoices):
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"
        # Retention changes the catalog before storage: a copy is `deleting` while its object and manifest are
        # removed, then `deleted`; a crash in between leaves a `deleting` row the catalog sweep finishes.
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"
        # In GLACIER / DEEP_ARCHIVE (found so by import_catalog): history, not readable until restored, not fresh.
        ARCHIVED = "archived", "Archived (restore before reading)"

    run = models.ForeignKey(BackupRun, on_delete=models.CASCADE, related_name="artifacts")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="artifacts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STORED)
    location = models.CharField(max_length=1000, help_text="Absolute path (local) or object key (S3).")
    version_id = models.CharField(max_length=200, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    storage_class = models.CharField(max_length=30, blank=True)
    globals_location = models.CharField(max_length=1000, blank=True)
    manifest_location = models.CharField(max_length=1000, blank=True, help_text="The sidecar <name>.json.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    encryption_recipients = models.JSONField(
        default=list, blank=True,
        help_text="The public age recipients (age1...) this copy is encrypted to; empty for a plain copy.")
    kms_key_id = models.CharField("SSE-KMS key", max_length=300, blank=True,
                                  help_text="The KMS key S3 reports for this object's server-side encryption.")
    remote_checksum = models.CharField(
        max_length=200, blank=True, help_text="The store's own checksum (S3: SHA-256, composite for multipart).")
    error = models.TextField(blank=True)
    # False: recorded by `import_catalog --defer-hashing` with its manifest's SHA-256, its bytes not read yet; the
    # next verification hashes them (a mismatch fails the copy as corrupt).
    hash_checked = models.BooleanField(default=True)
    # An archived copy whose restore from GLACIER / DEEP_ARCHIVE was asked for (backups/catalog/cold.py).
    restore_state = models.CharField(max_length=10, blank=True, choices=[
        ("requested", "Restore requested"), ("restoring", "Restoring")])
    restore_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    legal_hold = models.BooleanField(default=False, help_text="Never deleted by retention while set.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=150, blank=True)
    delete_reason = models.TextField(blank=True)
    # newest_verdict() kept as a column ('passed', 'failed' or ''), so a whole tier's verdicts are read without a
    # correlated subquery per copy (the tier page at 100,000 copies). refresh_verdicts() keeps it: on every save or
    # delete of a verification, in the migration that added it, and in `manage.py refresh_verdicts`.
    last_verdict = models.CharField(max_length=10, blank=True, default="", editable=False,
                               help_text="The newest decided verification's outcome (kept from the verifications).")

    objects = ArtifactQuerySet.as_manager()

    class Meta:
        ordering = ["run", "tier__position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "tier"], name="one_artifact_per_run_and_tier"),
        ]
        indexes = [
            # Freshness: newest live copy of a database in a tier. With the hold, the run and the size, the tier
            # page's retention counts and a tier's live copies and bytes are read off the index alone.
            models.Index(fields=["tier", "status", "deleted_at", "legal_hold", "run", "size_bytes"],
                         name="artifact_tier_live_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run.database} #{self.run_id} in {self.tier}"

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.STORED and self.deleted_at is None
