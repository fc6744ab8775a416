"""Limits that protect the servers: how many dumps and restores may run at once on one PostgreSQL server.

A server is known by its identity (`system_identifier`, see backups/recovery/identity.py), never by a host name,
so two aliases of one server share its slots. The defaults come from settings (LIFEBOAT_MAX_JOBS_PER_SERVER,
LIFEBOAT_MAX_JOBS_PER_TIER); a `ServerLimit` row overrides the per-server one for one server (edited in the admin,
audited like all configuration). How the slots are held is `backups/engine/slots.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class ServerLimit(models.Model):
    """At most `max_jobs` dumps and restores at once on the server whose identity is `system_identifier`."""

    system_identifier = models.CharField(
        "server system identifier", max_length=20, unique=True,
        help_text="SELECT system_identifier FROM pg_control_system(); also shown on each database's admin page.",
    )
    label = models.CharField(max_length=100, blank=True, help_text="What people call this server.")
    max_jobs = models.PositiveSmallIntegerField(
        "at most N jobs at once", validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Dumps and restores that may run at once on this server (1 to 100).",
    )

    class Meta:
        ordering = ["label", "system_identifier"]

    def __str__(self) -> str:
        return f"{self.label or self.system_identifier}: at most {self.max_jobs}"

    @classmethod
    def limit_for(cls, system_identifier: str) -> int:
        """The server's own limit, else the default; 0 means no limit."""
        own = cls.objects.filter(system_identifier=system_identifier).values_list("max_jobs", flat=True).first()
        return own if own is not None else settings.LIFEBOAT_MAX_JOBS_PER_SERVER


class SlotLease(models.Model):
    """One held slot where Lifeboat's own database is SQLite (one host): a row per (scope, slot), kept alive by
    the job's heartbeat thread (core/heartbeat.py). A worker killed mid-job leaves its row, which counts as free
    once its heartbeat is older than LIFEBOAT_HEARTBEAT_STALE_SECONDS: the same time the reaper takes to abandon
    the job. On PostgreSQL, advisory locks are used instead and die with the worker's connection at once."""

    scope = models.CharField(max_length=80)
    slot = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=80, help_text="The job holding it, e.g. backup run #12.")
    status = models.CharField(max_length=10, default="running")  # the heartbeat beats only `running` rows
    heartbeat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "slot"], name="one_lease_per_slot")]

    def __str__(self) -> str:
        return f"{self.scope} slot {self.slot}: {self.holder}"
