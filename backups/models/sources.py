"""What Lifeboat protects: databases, and the servers whose databases it discovers."""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta

from croniter import croniter
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from backups.conninfo import ConnectionOptions, format_dsn, password_from_env
from backups.models.common import (
    ENV_NAME_RE,
    name_validator,
    rpo_of,
    validate_cron,
    validate_libpq_options,
    validate_rpo_hours,
)
from backups.models.runs import Artifact, BackupRun, FreshnessReport
from backups.models.tags import normalize_tags, tag_list, validate_tags
from backups.models.tiers import Feature, Tier
from backups.models.windows import placed_cron, validate_window
from core.env import validate_secret_env

LIBPQ_OPTIONS_HELP = ("libpq options as in a DSN's query, e.g. sslmode=verify-full&sslrootcert=/etc/lifeboat/pg/ca.pem "
                      "(files under LIFEBOAT_PG_CERT_DIR; no password).")


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
        validators=[RegexValidator(ENV_NAME_RE, "An environment variable name, e.g. LIFEBOAT_DSA_DB_PASSWORD."),
                    validate_secret_env],
        help_text="Name of the environment variable holding the password (given to libpq as PGPASSWORD).",
    )
    passfile = models.CharField(
        "pgpass file", max_length=500, blank=True, help_text="Path to a pgpass file (libpq's passfile)."
    )
    libpq_options = models.CharField(
        "connection options", max_length=1000, blank=True, validators=[validate_libpq_options],
        help_text=LIBPQ_OPTIONS_HELP,
    )
    rpo_hours = models.PositiveIntegerField(
        "RPO (hours)", default=24, validators=[validate_rpo_hours],
        help_text="A tier is late when its newest good copy is older than this (1 to 8760 hours).",
    )
    schedule = models.CharField(
        max_length=100, default="0 2 * * *", validators=[validate_cron], help_text="Cron, in UTC."
    )
    window_start = models.TimeField(
        "window start (UTC)", null=True, blank=True,
        help_text="With a window end: run at a time Lifeboat places in the window instead of the cron's minute "
                  "and hour (the cron's days still apply). The window may cross midnight.",
    )
    window_end = models.TimeField("window end (UTC)", null=True, blank=True)
    tags = models.CharField(
        max_length=300, blank=True, validators=[validate_tags],
        help_text="Comma-separated labels for grouping and filtering the overview (e.g. billing, eu, tier-1).",
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
    # The source's identity as its server reported it at the newest backup (see backups/recovery/identity.py):
    # how a restore recognises this database behind any alias, even after the server is lost.
    system_identifier = models.CharField("server system identifier", max_length=20, blank=True, editable=False)
    server_port_seen = models.PositiveIntegerField("server port (as the server reports it)", null=True,
                                                   blank=True, editable=False)
    database_oid = models.BigIntegerField("database oid", null=True, blank=True, editable=False)
    identity_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
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
        """Connection target with its options, without any secret: safe to show and to record."""
        return format_dsn(self.host, self.port, self.user, self.dbname, self.libpq_options)

    @property
    def is_lifeboat_self(self) -> bool:
        """Whether this is the dashboard's own PostgreSQL database (its manifests say so, for recovery)."""
        from backups.catalog.own_database import is_own_database

        return is_own_database(self.host, self.port, self.dbname)

    @property
    def schedule_name(self) -> str:
        return f"backup:{self.name}"

    def connection_options(self, dbname: str | None = None) -> ConnectionOptions:
        """How every client reaches this database: its DSN options and its password (read from the environment
        now; ConfigurationError when the variable is not set)."""
        return ConnectionOptions.build(
            self.host, self.port, self.user, dbname or self.dbname, self.libpq_options,
            password=password_from_env(self.password_env, self.name), passfile=self.passfile,
        )

    @property
    def rpo(self) -> timedelta:
        """The RPO as a duration, within 1 hour..a year even for a row saved before those bounds were checked."""
        return rpo_of(self.rpo_hours)

    def backup_tiers(self) -> list[Tier]:
        chosen = list(self.tiers.filter(enabled=True)) if self.pk else []
        tiers = chosen or list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))
        return sorted(tiers, key=lambda t: (*t.nearness, t.name))

    def clean(self) -> None:
        super().clean()
        validate_window(self.window_start, self.window_end)
        self.tags = normalize_tags(self.tags)

    @property
    def tag_list(self) -> list[str]:
        return tag_list(self.tags)

    @property
    def has_window(self) -> bool:
        return self.window_start is not None and self.window_end is not None

    @property
    def placed_schedule(self) -> str:
        """The cron the scheduler runs: the database's own, or with a window, the time placed in it by the hash
        of its name (unique and stable: adding or removing another database never moves this one)."""
        if not self.has_window:
            return self.schedule
        return placed_cron(self.schedule, f"database:{self.name}", self.window_start, self.window_end)

    def next_run_after(self, now: datetime) -> datetime:
        return croniter(self.placed_schedule, now).get_next(datetime)

    def freshness(self, tier: Tier, now: datetime | None = None) -> FreshnessReport:
        """ok / due / late / never for the newest good copy in a tier, like healthchecks' get_status().

        Where the tier requires verification, only verified copies count; `verdict` says how the newest good
        copy's newest verification ended, so the overview can say "unverified" or "failed verification".
        """
        now = now or timezone.now()
        good = (Artifact.objects.live().filter(run__database=self, tier=tier, run__status=BackupRun.Status.SUCCEEDED)
                .select_related("run").order_by("-run__started_at"))
        newest = good.with_verdict().first()
        newest_verified = good.verified().first() if newest else None
        return FreshnessReport.evaluate(
            newest=newest, newest_verified=newest_verified, require_verified=tier.require_verified,
            rpo=self.rpo, now=now, newest_verdict=newest.verdict if newest else None,
        )


class Server(models.Model):
    """A PostgreSQL server whose databases are protected by auto-discovery: every database on it except
    templates and the excluded ones, with new databases added before the next scheduled runs."""

    name = models.CharField(max_length=40, unique=True, validators=[name_validator])
    host = models.CharField(max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(default=5432)
    user = models.CharField(max_length=63, default="postgres")
    password_env = models.CharField(
        "password environment variable", max_length=100, blank=True,
        validators=[RegexValidator(ENV_NAME_RE, "An environment variable name, e.g. LIFEBOAT_PROD_PG_PASSWORD."),
                    validate_secret_env],
        help_text="Name of the environment variable holding the password; the password is never stored.",
    )
    passfile = models.CharField("pgpass file", max_length=500, blank=True)
    libpq_options = models.CharField(
        "connection options", max_length=1000, blank=True, validators=[validate_libpq_options],
        help_text=LIBPQ_OPTIONS_HELP,
    )
    discover = models.BooleanField("auto-discover databases", default=True)
    exclude = models.TextField(
        blank=True, default="postgres",
        help_text="Database names not to protect, one per line or comma-separated; shell patterns (rds*) allowed.",
    )
    rpo_hours = models.PositiveIntegerField("RPO of discovered databases (hours)", default=24,
                                            validators=[validate_rpo_hours], help_text="1 to 8760 hours.")
    schedule = models.CharField("schedule of discovered databases", max_length=100, default="0 2 * * *",
                                validators=[validate_cron], help_text="Cron, in UTC.")
    isolated = models.BooleanField(
        "isolated (full superuser restores allowed)", default=False,
        help_text="Set only for a server that holds no protected database and runs under another OS user or on "
                  "another host: restores there may run as superuser (code from a backup runs with its rights).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def dsn(self) -> str:
        return format_dsn(self.host, self.port, self.user, "postgres", self.libpq_options)

    def excluded_patterns(self) -> list[str]:
        return [p.strip() for p in self.exclude.replace(",", "\n").splitlines() if p.strip()]

    def is_excluded(self, dbname: str) -> bool:
        return any(fnmatch.fnmatchcase(dbname, pattern) for pattern in self.excluded_patterns())

    def connection_options(self, dbname: str = "postgres") -> ConnectionOptions:
        return ConnectionOptions.build(
            self.host, self.port, self.user, dbname, self.libpq_options,
            password=password_from_env(self.password_env, self.name), passfile=self.passfile,
        )
