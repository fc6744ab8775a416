"""What Lifeboat protects and what it has made: databases, tiers, policies, runs, artifacts, proofs."""

from __future__ import annotations

import fnmatch
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from backups.errors import ConfigurationError

# Names end up in file names, S3 keys and pg_dump arguments: letters, digits, _ . - only.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
name_validator = RegexValidator(
    NAME_RE, "Use letters, digits, '_', '.' or '-' (no spaces or shell characters), up to 63 characters."
)
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"
run_log = logging.getLogger("lifeboat.run")


def validate_cron(value: str) -> None:
    if not croniter.is_valid(value):
        raise ValidationError(f"{value!r} is not a valid cron expression (five fields, e.g. '0 2 * * *').")


class Freshness(models.TextChoices):
    OK = "ok", "OK"
    DUE = "due", "Due soon"
    LATE = "late", "Late"
    NEVER = "never", "Never"


@dataclass(frozen=True)
class FreshnessReport:
    status: str
    newest: Artifact | None  # the newest good copy, verified or not
    age: timedelta | None  # age of the copy that counts (the newest verified one where verification is required)
    verified: bool = False  # whether the newest good copy has passed a verification

    @property
    def label(self) -> str:
        return Freshness(self.status).label

    @classmethod
    def evaluate(cls, *, newest: Artifact | None, newest_verified: Artifact | None, require_verified: bool,
                 rpo: timedelta, now: datetime) -> FreshnessReport:
        counted = newest_verified if require_verified else newest
        verified = newest is not None and newest_verified is not None and newest_verified.pk == newest.pk
        if counted is None:
            return cls(Freshness.NEVER, newest, None, verified)
        age = now - counted.run.started_at
        if age > rpo:
            status = Freshness.LATE
        elif age > rpo * 0.8:
            status = Freshness.DUE
        else:
            status = Freshness.OK
        return cls(status, newest, age, verified)


class Database(models.Model):
    """A PostgreSQL database to protect. Its password never lives here: only where to find it."""

    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    host = models.CharField(max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(default=5432)
    dbname = models.CharField("database name", max_length=63)
    user = models.CharField(max_length=63, default="postgres")
    password_env = models.CharField(
        "password environment variable",
        max_length=100,
        blank=True,
        validators=[RegexValidator(ENV_NAME_RE, "An environment variable name, e.g. DSA_DB_PASSWORD.")],
        help_text="Name of the environment variable holding the password (PGPASSWORD is set from it).",
    )
    passfile = models.CharField(
        "pgpass file", max_length=500, blank=True, help_text="Path to a pgpass file (PGPASSFILE)."
    )
    rpo_hours = models.PositiveIntegerField(
        "RPO (hours)", default=24, validators=[MinValueValidator(1)],
        help_text="A tier is late when its newest good copy is older than this.",
    )
    schedule = models.CharField(
        max_length=100, default="0 2 * * *", validators=[validate_cron], help_text="Cron, in UTC."
    )
    enabled = models.BooleanField(default=True, help_text="Scheduled backups run only when enabled.")
    server = models.ForeignKey(
        "Server", null=True, blank=True, on_delete=models.SET_NULL, related_name="databases",
        help_text="Set when the database was found by auto-discovery on this server.",
    )
    tiers = models.ManyToManyField(
        "Tier", blank=True, related_name="databases",
        help_text="Tiers this database is copied to; none selected means every enabled tier.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("backups:database_detail", args=[self.name])

    @property
    def dsn(self) -> str:
        """Connection target without any secret, safe to show and to record."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def is_lifeboat_self(self) -> bool:
        """Whether this is the dashboard's own PostgreSQL database (its manifests say so, for recovery)."""
        from backups.selfbackup import is_own_database

        return is_own_database(self.host, self.port, self.dbname)

    @property
    def schedule_name(self) -> str:
        return f"backup:{self.name}"

    def libpq_env(self) -> dict[str, str]:
        """Environment for libpq clients (pg_dump, psycopg): the secret travels here, never in argv."""
        env: dict[str, str] = {}
        if self.password_env:
            password = os.environ.get(self.password_env)
            if password is None:
                raise ConfigurationError(
                    f"environment variable {self.password_env} (password of {self.name}) is not set"
                )
            env["PGPASSWORD"] = password
        if self.passfile:
            env["PGPASSFILE"] = self.passfile
        return env

    def backup_tiers(self) -> list[Tier]:
        chosen = list(self.tiers.filter(enabled=True)) if self.pk else []
        tiers = chosen or list(Tier.objects.filter(enabled=True).exclude(kind=Tier.Kind.RDS))
        return sorted(tiers, key=lambda t: (t.kind != Tier.Kind.LOCAL, t.position, t.name))

    def next_run_after(self, now: datetime) -> datetime:
        return croniter(self.schedule, now).get_next(datetime)

    def freshness(self, tier: Tier, now: datetime | None = None) -> FreshnessReport:
        """ok / due / late / never for the newest good copy in a tier, like healthchecks' get_status().

        Where the tier requires verification, only verified copies count; `verified` says whether the newest
        good copy has been proven, so the overview can say "unverified".
        """
        now = now or timezone.now()
        good = (Artifact.objects.live().filter(run__database=self, tier=tier, run__status=BackupRun.Status.SUCCEEDED)
                .select_related("run").order_by("-run__started_at"))
        newest = good.first()
        newest_verified = good.verified().first() if newest else None
        return FreshnessReport.evaluate(
            newest=newest, newest_verified=newest_verified, require_verified=tier.require_verified,
            rpo=timedelta(hours=self.rpo_hours), now=now,
        )


class Tier(models.Model):
    """Where copies live: a local directory, an S3 bucket and prefix, or an RDS instance (read only)."""

    class Kind(models.TextChoices):
        LOCAL = "local", "Local directory"
        S3 = "s3", "Amazon S3"
        RDS = "rds", "AWS RDS automated backups"

    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    kind = models.CharField(max_length=10, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Display order on the overview.")
    require_verified = models.BooleanField(
        "freshness needs verification", default=False,
        help_text="When on, only verified copies count towards this tier's freshness.",
    )
    # local
    path = models.CharField(
        max_length=500, blank=True, help_text="Local directory; empty means LIFEBOAT_BACKUP_ROOT."
    )
    # s3
    bucket = models.CharField(max_length=63, blank=True)
    prefix = models.CharField(max_length=200, blank=True, default="backups/")
    region = models.CharField(max_length=30, blank=True, default="us-east-1")
    endpoint_url = models.CharField(max_length=300, blank=True, help_text="For S3-compatible stores.")
    storage_class = models.CharField(max_length=30, blank=True, default="STANDARD_IA")
    # rds
    rds_instance = models.CharField("RDS instance identifier", max_length=63, blank=True)
    # s3 bucket policy, declared here, applied by `manage.py apply_bucket_policy`, compared daily (drift)
    versioning = models.BooleanField("bucket versioning", default=True)
    glacier_after_days = models.PositiveIntegerField(
        "move to GLACIER after (days)", null=True, blank=True, help_text="Lifecycle transition on the prefix.")
    expire_after_days = models.PositiveIntegerField(
        "expire after (days)", null=True, blank=True,
        help_text="Lifecycle expiration on the prefix: a backstop behind retention, which deletes first.")
    noncurrent_expire_days = models.PositiveIntegerField(
        "remove old versions after (days)", null=True, blank=True,
        help_text="Versioned buckets keep a deleted object's old version; remove it this long after.")
    object_lock_mode = models.CharField(
        max_length=12, blank=True, choices=[("GOVERNANCE", "Governance"), ("COMPLIANCE", "Compliance")],
        help_text="Object Lock default retention (the bucket must have Object Lock enabled).")
    object_lock_days = models.PositiveIntegerField(null=True, blank=True)
    archive_prefix = models.CharField(
        max_length=200, blank=True,
        help_text="Monthly copies move here, outside the lifecycle's prefix, so the lifecycle never expires them.")

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("backups:tier_detail", args=[self.pk])

    def clean(self) -> None:
        if self.kind == self.Kind.S3 and not self.bucket:
            raise ValidationError({"bucket": "An S3 tier needs a bucket."})
        if self.kind == self.Kind.RDS and not self.rds_instance:
            raise ValidationError({"rds_instance": "An RDS tier needs an instance identifier."})
        if self.archive_prefix and (not self.prefix or self.archive_prefix.startswith(self.prefix)
                                    or self.prefix.startswith(self.archive_prefix)):
            raise ValidationError({"archive_prefix": "The archive prefix must not overlap the tier's prefix, "
                                                     "or the lifecycle rule would expire monthly copies."})
        if bool(self.object_lock_mode) != bool(self.object_lock_days):
            raise ValidationError({"object_lock_days": "Object Lock needs both a mode and a number of days."})

    @property
    def where(self) -> str:
        if self.kind == self.Kind.S3:
            return f"s3://{self.bucket}/{self.prefix}"
        if self.kind == self.Kind.RDS:
            return f"rds:{self.rds_instance} ({self.region})"
        return str(self.local_root)

    @property
    def local_root(self) -> Path:
        return Path(self.path) if self.path else Path(settings.LIFEBOAT_BACKUP_ROOT)


class RetentionPolicy(models.Model):
    """How long a tier keeps copies. The planner in retention.py reads it; it never deletes by itself."""

    tier = models.OneToOneField(Tier, on_delete=models.CASCADE, related_name="retention")
    keep_days = models.PositiveIntegerField(default=7, help_text="Keep every copy younger than this.")
    keep_last = models.PositiveIntegerField(
        default=3, help_text="Always keep at least this many newest good copies per database."
    )
    monthly_months = models.PositiveIntegerField(
        default=0, help_text="Keep the first copy of each month for this many months (0: none)."
    )
    monthly_forever = models.BooleanField(default=False, help_text="Keep the first copy of every month forever.")
    legal_hold = models.BooleanField(default=False, help_text="Delete nothing in this tier while set.")

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        monthly = "forever" if self.monthly_forever else f"{self.monthly_months} months"
        return f"{self.tier}: {self.keep_days} days, last {self.keep_last}, monthly {monthly}"


class BucketDriftCheck(models.Model):
    """One comparison of an S3 tier's live bucket with its declared policy (a row per check, like a Flip)."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="drift_checks")
    checked_at = models.DateTimeField(default=timezone.now)
    differences = models.JSONField(default=list, blank=True, help_text="One sentence per difference.")
    error = models.TextField(blank=True, help_text="Why the bucket could not be read.")

    class Meta:
        ordering = ["-checked_at"]
        indexes = [
            # Tier page: the newest check of a tier.
            models.Index(fields=["tier", "-checked_at"], name="driftcheck_tier_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tier} checked {self.checked_at:%Y-%m-%d %H:%M}: {self.status}"

    @property
    def status(self) -> str:
        if self.error:
            return "unreadable"
        return "drift" if self.differences else "in sync"


class BackupRunQuerySet(models.QuerySet):
    def good(self) -> BackupRunQuerySet:
        return self.filter(status=BackupRun.Status.SUCCEEDED)

    def active(self) -> BackupRunQuerySet:
        return self.filter(status__in=BackupRun.ACTIVE)


class BackupRun(models.Model):
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
        IMPORT = "import", "Imported from a catalog"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    database = models.ForeignKey(Database, on_delete=models.PROTECT, related_name="runs")
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
    source_dsn = models.CharField(max_length=400, blank=True)
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
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)

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
            # History and overview: newest runs of a database (and of a status).
            models.Index(fields=["database", "-created_at"], name="run_db_created_idx"),
            models.Index(fields=["status", "-created_at"], name="run_status_created_idx"),
            # History's first page, all databases: ORDER BY created_at DESC, id DESC LIMIT 50 without a sort.
            models.Index(fields=["-created_at", "-id"], name="run_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.database} {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("backups:run_detail", args=[self.pk])

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    def append_log(self, line: str) -> None:
        stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        self.log = f"{self.log}[{stamp}] {line}\n"
        run_log.info("%s", line, extra={"run_id": self.pk})  # the process logs follow the run too

    def mark_failed(self, error: str) -> None:
        self.status = self.Status.FAILED
        self.error = error.strip()
        self.finished_at = timezone.now()
        self.append_log(f"FAILED: {self.error}")
        self.save(update_fields=["status", "error", "finished_at", "log"])

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

    def verified(self) -> ArtifactQuerySet:
        return self.filter(
            Exists(Verification.objects.filter(artifact=OuterRef("pk"), status=Verification.Status.PASSED))
        )


class Artifact(models.Model):
    """One copy of a run in one tier."""

    class Status(models.TextChoices):
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"

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
    remote_checksum = models.CharField(
        max_length=200, blank=True, help_text="The store's own checksum (S3: SHA-256, composite for multipart).")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    legal_hold = models.BooleanField(default=False, help_text="Never deleted by retention while set.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=150, blank=True)
    delete_reason = models.TextField(blank=True)

    objects = ArtifactQuerySet.as_manager()

    class Meta:
        ordering = ["run", "tier__position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "tier"], name="one_artifact_per_run_and_tier"),
        ]
        indexes = [
            # Freshness: newest live copy of a database in a tier.
            models.Index(fields=["tier", "status", "deleted_at"], name="artifact_tier_live_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run.database} #{self.run_id} in {self.tier}"

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.STORED and self.deleted_at is None


class Verification(models.Model):
    """One restore test of an artifact into a scratch database."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="verifications")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    restore_seconds = models.FloatField(null=True, blank=True)
    scratch_database = models.CharField(max_length=63, blank=True)
    server = models.CharField(max_length=400, blank=True, help_text="Where the scratch database lived.")
    checks = models.JSONField(default=list, blank=True, help_text="[{name, ok, detail}]")
    table_counts = models.JSONField(default=dict, blank=True, help_text="{table: {expected, actual}}")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # ArtifactQuerySet.verified(): passed verifications of an artifact.
            models.Index(fields=["artifact", "status"], name="verification_artifact_idx"),
        ]

    def __str__(self) -> str:
        return f"verification #{self.pk} of {self.artifact}: {self.status}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Restore(models.Model):
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

    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="restores")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.NEW_DATABASE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_dsn = models.CharField(max_length=400, blank=True, help_text="Target server, without secrets.")
    target_database = models.CharField(max_length=63)
    tables = models.JSONField(default=list, blank=True)
    with_globals = models.BooleanField(default=False)
    forensic_database = models.CharField(max_length=63, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"restore #{self.pk} of {self.artifact} into {self.target_database}: {self.status}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Server(models.Model):
    """A PostgreSQL server whose databases are protected by auto-discovery: every database on it except
    templates and the excluded ones, with new databases added before the next scheduled runs."""

    name = models.CharField(max_length=40, unique=True, validators=[name_validator])
    host = models.CharField(max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(default=5432)
    user = models.CharField(max_length=63, default="postgres")
    password_env = models.CharField(
        "password environment variable", max_length=100, blank=True,
        validators=[RegexValidator(ENV_NAME_RE, "An environment variable name, e.g. PROD_PG_PASSWORD.")],
        help_text="Name of the environment variable holding the password; the password is never stored.",
    )
    passfile = models.CharField("pgpass file", max_length=500, blank=True)
    discover = models.BooleanField("auto-discover databases", default=True)
    exclude = models.TextField(
        blank=True, default="postgres",
        help_text="Database names not to protect, one per line or comma-separated; shell patterns (rds*) allowed.",
    )
    rpo_hours = models.PositiveIntegerField("RPO of discovered databases (hours)", default=24,
                                            validators=[MinValueValidator(1)])
    schedule = models.CharField("schedule of discovered databases", max_length=100, default="0 2 * * *",
                                validators=[validate_cron], help_text="Cron, in UTC.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    def excluded_patterns(self) -> list[str]:
        return [p.strip() for p in self.exclude.replace(",", "\n").splitlines() if p.strip()]

    def is_excluded(self, dbname: str) -> bool:
        return any(fnmatch.fnmatchcase(dbname, pattern) for pattern in self.excluded_patterns())

    def libpq_env(self) -> dict[str, str]:
        return Database(name=self.name, password_env=self.password_env, passfile=self.passfile).libpq_env()
