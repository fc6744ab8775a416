"""What Lifeboat protects: databases, and the servers whose databases it discovers."""

from __future__ import annotations

import fnmatch
import os
from datetime import datetime, timedelta

from croniter import croniter
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from backups.errors import ConfigurationError
from backups.models.common import ENV_NAME_RE, name_validator, validate_cron
from backups.models.runs import Artifact, BackupRun, FreshnessReport
from backups.models.tiers import Tier


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
        from backups.catalog.own_database import is_own_database

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
