"""What goes in the package: a registry of populations, each a queryset of one period and scope.

Populations of the apps below are registered here with `register(Population(...))`, by modules of this app that
EvidenceConfig.ready() imports when their app is installed: drill_populations.py (drills, checklist steps,
sign-offs, follow-ups, DR contacts) and alert_populations.py (alerts, notifications).
A population the package is expected to hold but nobody registered is listed in the manifest's `omissions`, never
dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from backups.models import Artifact, BackupRun, BucketDriftCheck, Restore, RetentionPolicy, Tier, Verification
from evidence.period import Scope


@dataclass(frozen=True)
class Population:
    name: str  # file stem: backup_runs -> backup_runs.csv, backup_runs.json
    title: str
    controls: tuple[str, ...]
    fields: tuple[str, ...]  # values() lookups, in column order
    queryset: Callable[[Scope], QuerySet]  # the rows of one scope, ordered
    selection: str  # in words: which rows, so the manifest says how the population was drawn
    formats: tuple[str, ...] = ("csv", "json")
    per_period: bool = True  # False: the configuration as it stands at export time
    # For columns the database cannot give (derived status, pass/fail per criterion, a re-computed hash): build
    # each row from the model instance, streamed with iterator() (prefetches are honoured per chunk).
    row: Callable[[Any], dict[str, Any]] | None = None

    def stream(self, queryset: QuerySet, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
        if self.row is None:
            return queryset.values(*self.fields).iterator(chunk_size=chunk_size)
        return (self.row(instance) for instance in queryset.iterator(chunk_size=chunk_size))

    def sql(self, queryset: QuerySet) -> str:
        return str((queryset if self.row else queryset.values(*self.fields)).query)

    def rows(self, scope: Scope) -> Iterator[dict[str, Any]]:
        return self.stream(self.queryset(scope))


REGISTRY: dict[str, Population] = {}

# Populations the package must account for whichever apps are installed: name -> what it would hold. Those the
# drills and alerts apps register are omissions only when the app is missing or its registration broke.
EXPECTED = {
    "drills": "DR drills: scenario, planned date, RTO/RPO targets, measured RTO, outcome (drills app)",
    "drill_steps": "Drill checklist steps with owner, start, finish, status, notes (drills app)",
    "drill_sign_offs": "Drill sign-offs with the SHA-256 of the record as signed (drills app)",
    "drill_follow_ups": "Drill findings and follow-up actions with owner, due date, status (drills app)",
    "dr_contacts": "DR contacts and roles (drills app)",
    "alerts": "Alerts: what fired, when, when it resolved (alerts app)",
    "alert_notifications": "Alerts sent: to which channel, when, outcome (alerts app)",
}


# summary.html sections other apps contribute (drill_populations.py: "DR drills", measured RTO against targets
# and sign-offs): title -> function(scope) returning an HTML fragment (rendered from a template, so escaped).
SUMMARY_SECTIONS: dict[str, Callable[[Scope], str]] = {}


# Sources of open exceptions other apps contribute (alert_populations.py: alerts still open): function(scope)
# returning rows {"kind", "what", "when", "detail"} for summary.html.
EXCEPTION_SOURCES: list[Callable[[Scope], list[dict[str, str]]]] = []


def register_exception_source(source: Callable[[Scope], list[dict[str, str]]]) -> None:
    if source not in EXCEPTION_SOURCES:
        EXCEPTION_SOURCES.append(source)


def register(population: Population) -> None:
    REGISTRY[population.name] = population


def register_summary_section(title: str, render: Callable[[Scope], str]) -> None:
    SUMMARY_SECTIONS[title] = render


def registered() -> list[Population]:
    return list(REGISTRY.values())


def missing() -> dict[str, str]:
    return {name: what for name, what in EXPECTED.items() if name not in REGISTRY}


def _in_period(qs: QuerySet, scope: Scope, date_field: str, database_field: str | None) -> QuerySet:
    qs = qs.filter(**{f"{date_field}__gte": scope.start, f"{date_field}__lt": scope.end})
    if scope.databases and database_field:
        qs = qs.filter(**{f"{database_field}__in": scope.databases})
    return qs.order_by("id")


def _artifacts(scope: Scope) -> QuerySet:
    """Copies of the period's runs, and every deletion within the period, also of copies made before it."""
    made = Q(run__created_at__gte=scope.start, run__created_at__lt=scope.end)
    deleted = Q(deleted_at__gte=scope.start, deleted_at__lt=scope.end)
    qs = Artifact.objects.with_verdict().filter(made | deleted)
    if scope.databases:
        qs = qs.filter(run__database__name__in=scope.databases)
    return qs.order_by("id")


WHEN = "created between start_inclusive and end_exclusive (UTC)"

register(Population(
    "backup_runs", "Backup runs (every attempt: succeeded, failed, abandoned)", ("A1.2", "A.8.13"),
    ("id", "database__name", "status", "trigger", "requested_by__username", "created_at", "started_at",
     "finished_at", "source_dsn", "pg_dump_version", "server_version", "raw_size_bytes", "size_bytes", "sha256",
     "row_counts", "snapshot_id", "warnings", "error"),
    lambda s: _in_period(BackupRun.objects.all(), s, "created_at", "database__name"),
    f"backups.BackupRun {WHEN}, of the selected databases",
))
register(Population(
    "artifacts", "Stored copies of those runs, per tier (with retention deletions and their reasons)",
    ("A1.2", "A.8.13", "CC9.1"),
    ("id", "run_id", "run__database__name", "tier__name", "status", "location", "version_id", "storage_class",
     "size_bytes", "sha256", "created_at", "legal_hold", "deleted_at", "deleted_by", "delete_reason", "error",
     "verdict"),
    lambda s: _artifacts(s),
    f"backups.Artifact of the runs {WHEN}, and every copy deleted between start_inclusive and end_exclusive "
    "(whenever it was made), of the selected databases; verdict: the copy's newest passed or failed "
    "verification at export time (verified while it is 'passed')",
))
register(Population(
    "verifications", "Restore tests of backups into scratch databases", ("A1.3", "A.8.13"),
    ("id", "artifact_id", "artifact__run_id", "artifact__run__database__name", "artifact__tier__name", "status",
     "requested_by__username", "created_at", "started_at", "finished_at", "restore_seconds", "server", "checks",
     "table_counts", "error"),
    lambda s: _in_period(Verification.objects.all(), s, "created_at", "artifact__run__database__name"),
    f"backups.Verification {WHEN}, of the selected databases",
))
register(Population(
    "restores", "Restores (who, what, where, outcome)", ("A1.3", "CC7.5", "A.8.13"),
    ("id", "artifact_id", "artifact__run_id", "artifact__run__database__name", "mode", "status",
     "requested_by__username", "target_dsn", "target_database", "tables", "forensic_database", "created_at",
     "started_at", "finished_at", "error"),
    lambda s: _in_period(Restore.objects.all(), s, "created_at", "artifact__run__database__name"),
    f"backups.Restore {WHEN}, of the selected databases",
))
register(Population(
    "retention_policies", "Retention policies as configured at export time", ("A1.2", "CC9.1", "A.8.13"),
    ("id", "tier__name", "keep_days", "keep_last", "monthly_months", "monthly_forever", "legal_hold"),
    lambda s: RetentionPolicy.objects.order_by("id"),
    "backups.RetentionPolicy: every policy, as configured at export time (changes during the period are in "
    "audit_events.jsonl as config.retentionpolicy.*)",
    per_period=False,
))
register(Population(
    "tiers", "Storage tiers as configured at export time", ("A1.2", "CC9.1", "A.8.13"),
    ("id", "name", "kind", "enabled", "position", "require_verified", "path", "bucket", "prefix", "region",
     "endpoint_url", "storage_class", "rds_instance", "versioning", "glacier_after_days", "expire_after_days",
     "noncurrent_expire_days", "object_lock_mode", "object_lock_days", "archive_prefix"),
    lambda s: Tier.objects.order_by("id"),
    "backups.Tier: every tier, as configured at export time (changes are in audit_events.jsonl as config.tier.*)",
    per_period=False,
))
register(Population(
    "bucket_drift_checks", "Comparisons of each S3 bucket's live settings with the declared policy",
    ("A1.2", "CC9.1", "A.8.13"),
    ("id", "tier__name", "checked_at", "differences", "error"),
    lambda s: _in_period(BucketDriftCheck.objects.all(), s, "checked_at", None),
    "backups.BucketDriftCheck checked between start_inclusive and end_exclusive (UTC), every tier",
))
register(Population(
    "audit_events", "The audit trail of the period, hash-chained (re-verifiable from id, prev_hash, hash)",
    ("A1.2", "A1.3", "CC7.5", "CC9.1", "A.8.13"),
    ("id", "created_at", "actor", "action", "target_type", "target_id", "summary", "details", "prev_hash", "hash"),
    lambda s: _in_period(AuditEvent.objects.all(), s, "created_at", None),
    f"dashboard.AuditEvent {WHEN}; every event of the period, not narrowed by database",
    formats=("jsonl",),
))
