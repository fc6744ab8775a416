"""Alert rules: each looks at the database as it is now and yields the conditions that currently hold.

A rule says nothing about what changed; the engine compares the conditions with the open alerts (fire, remind,
resolve). Conditions are keyed so that one condition is one alert: a second failed backup of the same database
extends the open alert instead of firing another one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from alerts.models import Kind, Observation, Severity
from backups.models import Artifact, BackupRun, Database, Feature, Freshness, Tier, Verification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    key: str
    kind: str
    severity: str
    title: str
    message: str
    link: str = ""
    database: Database | None = None
    tier: Tier | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _pair_key(kind: str, database: Database, tier: Tier) -> str:
    return f"{kind}:database:{database.pk}:tier:{tier.pk}"


FINISHED = (BackupRun.Status.SUCCEEDED, BackupRun.Status.FAILED, BackupRun.Status.ABANDONED)


def newest_finished_runs() -> QuerySet[BackupRun]:
    """Each database's newest finished run, in one query driven by the databases (a walk of each database's runs
    newest first that stops at the first finished one), not one query per database: every job ends by evaluating
    the rules, and at a thousand databases that was a thousand queries per rule."""
    newest = BackupRun.objects.filter(database=OuterRef("pk"), status__in=FINISHED).order_by("-created_at")
    ids = Database.objects.order_by().annotate(run=Subquery(newest.values("pk")[:1])).filter(run__isnull=False)
    return BackupRun.objects.filter(pk__in=ids.values("run")).select_related("database").order_by("database__name")


def backup_failed(now: datetime) -> Iterator[Condition]:
    """The newest finished run of a database failed (or was abandoned); a later good run ends it."""
    for run in newest_finished_runs().exclude(status=BackupRun.Status.SUCCEEDED):
        database = run.database
        yield Condition(
            key=f"{Kind.BACKUP_FAILED}:database:{database.pk}", kind=Kind.BACKUP_FAILED, severity=Severity.CRITICAL,
            title=f"Backup of {database.name} failed",
            message=f"Backup #{run.pk} of {database.name} ({database.dsn}) {run.status}: {run.error or 'no message'}",
            link=run.get_absolute_url(), database=database, details={"run_id": run.pk, "status": run.status},
        )


def backup_warnings(now: datetime) -> Iterator[Condition]:
    """The newest finished run of a database succeeded but lacks a part (its globals file...); a later complete
    run ends it (a later failure too: backup_failed speaks then)."""
    for run in newest_finished_runs().with_warnings():
        database = run.database
        yield Condition(
            key=f"{Kind.BACKUP_WARNINGS}:database:{database.pk}", kind=Kind.BACKUP_WARNINGS,
            severity=Severity.WARNING, title=f"Backup of {database.name} succeeded with warnings",
            message=f"Backup #{run.pk} of {database.name} succeeded with warnings: {'; '.join(run.warnings)}",
            link=run.get_absolute_url(), database=database, details={"run_id": run.pk, "warnings": run.warnings},
        )


def verification_failed(now: datetime) -> Iterator[Condition]:
    """The newest finished verification of a database's copies in a tier failed; a later pass ends it."""
    # Start from the failures (rare) and drop those a later pass of the same database and tier superseded, rather
    # than reading every verification ever made on each evaluation.
    later_pass = Verification.objects.filter(
        status=Verification.Status.PASSED, artifact__tier=OuterRef("artifact__tier"),
        artifact__run__database=OuterRef("artifact__run__database"), created_at__gt=OuterRef("created_at"))
    # A disabled tier is inert: whatever it last reported, it raises nothing (same in every rule below).
    standing = (Verification.objects.filter(status=Verification.Status.FAILED, artifact__tier__enabled=True)
                .exclude(Exists(later_pass))
                .select_related("artifact__tier", "artifact__run__database").order_by("created_at"))
    newest: dict[tuple[int, int], Verification] = {}
    for v in standing:
        newest[(v.artifact.run.database_id, v.artifact.tier_id)] = v  # later rows overwrite earlier ones
    for v in newest.values():
        artifact = v.artifact
        database, tier = artifact.run.database, artifact.tier
        yield Condition(
            key=_pair_key(Kind.VERIFICATION_FAILED, database, tier), kind=Kind.VERIFICATION_FAILED,
            severity=Severity.CRITICAL, title=f"Verification of {database.name} in {tier.name} failed",
            message=(f"Restore test #{v.pk} of backup #{artifact.run_id} of {database.name} ({tier.name} copy) "
                     f"failed: {v.error or 'a check failed'}"),
            link=artifact.run.get_absolute_url(), database=database, tier=tier,
            details={"verification_id": v.pk, "run_id": artifact.run_id},
        )


def verification_error(now: datetime) -> Iterator[Condition]:
    """The newest finished verification of a database's copies in a tier could not run (its server was down, its
    worker was killed): a warning about the infrastructure, never "the backup failed its restore test"."""
    ended = (Verification.Status.PASSED, Verification.Status.FAILED, Verification.Status.ERROR,
             Verification.Status.ABANDONED)
    later = Verification.objects.filter(
        status__in=ended, artifact__tier=OuterRef("artifact__tier"),
        artifact__run__database=OuterRef("artifact__run__database"), created_at__gt=OuterRef("created_at"))
    standing = (Verification.objects.filter(status__in=[Verification.Status.ERROR, Verification.Status.ABANDONED])
                .exclude(Exists(later)).select_related("artifact__tier", "artifact__run__database"))
    for v in standing:
        artifact = v.artifact
        database, tier = artifact.run.database, artifact.tier
        yield Condition(
            key=_pair_key(Kind.VERIFICATION_ERROR, database, tier), kind=Kind.VERIFICATION_ERROR,
            severity=Severity.WARNING, title=f"Verification of {database.name} in {tier.name} could not run",
            message=(f"Restore test #{v.pk} of backup #{artifact.run_id} of {database.name} ({tier.name} copy) "
                     f"could not run: {v.error or v.get_status_display()}. This says nothing about the backup."),
            link=artifact.run.get_absolute_url(), database=database, tier=tier,
            details={"verification_id": v.pk, "run_id": artifact.run_id, "status": v.status},
        )


def freshness(now: datetime) -> Iterator[Condition]:
    """A tier holds no good (where required, verified) copy within the RPO.

    NEVER counts once the tier has held a copy of the database, or once the database has been protected for
    longer than its RPO: a database added a minute ago is not yet late.

    The cells are the overview's matrix (backups.web.overview.freshness_matrix: the same freshness rule, a
    constant number of queries for the whole fleet), each database read in its own tiers (Database.backup_tiers:
    those chosen for it, else every enabled tier that holds copies).
    """
    from backups.web.overview import freshness_matrix

    default = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))
    chosen: dict[int, set[int]] = defaultdict(set)
    tiers = {tier.pk: tier for tier in default}
    for link in Database.tiers.through.objects.filter(tier__enabled=True).select_related("tier"):
        chosen[link.database_id].add(link.tier_id)
        tiers[link.tier_id] = link.tier
    order = sorted(tiers.values(), key=lambda t: (*t.nearness, t.name))
    rows = freshness_matrix(order, now, databases=Database.objects.filter(enabled=True))
    late, never = [], []
    for row in rows:
        own = chosen.get(row.database.pk) or {tier.pk for tier in default}
        for tier, report in zip(order, row.cells, strict=True):
            if tier.pk not in own:
                continue
            if report.status == Freshness.LATE:
                late.append((row.database, tier, report))
            elif report.status == Freshness.NEVER:
                never.append((row.database, tier, report))
    # A database protected for less than its RPO is not yet late, unless the tier has held a copy of it: asked
    # once for all such cells.
    young = [(db, tier) for db, tier, _ in never if db.created_at > now - db.rpo]
    held = set(Artifact.objects.filter(status=Artifact.Status.STORED, run__database__in={db.pk for db, _ in young},
                                       tier__in={tier.pk for _, tier in young})
               .values_list("run__database", "tier").distinct()) if young else set()
    never = [(db, tier, report) for db, tier, report in never
             if db.created_at <= now - db.rpo or (db.pk, tier.pk) in held]
    instances = Database.objects.in_bulk({db.pk for db, _, _ in late + never})
    for db, tier, report in late + never:
        database = instances[db.pk]
        what = "verified copy" if tier.require_verified else "good copy"
        if report.status == Freshness.LATE:
            hours = report.age.total_seconds() / 3600
            message = (f"The newest {what} of {database.name} in {tier.name} is {hours:.1f} h old "
                       f"(RPO {database.rpo_hours} h).")
        else:
            message = f"{tier.name} holds no {what} of {database.name} (RPO {database.rpo_hours} h)."
        yield Condition(
            key=_pair_key(Kind.FRESHNESS, database, tier), kind=Kind.FRESHNESS, severity=Severity.CRITICAL,
            title=f"{database.name} has no fresh backup in {tier.name}", message=message,
            link=database.get_absolute_url(), database=database, tier=tier,
            details={"status": report.status, "rpo_hours": database.rpo_hours,
                     "age_seconds": report.age.total_seconds() if report.age else None},
        )


def upload_failed(now: datetime) -> Iterator[Condition]:
    """The newest copy attempt of a database in a tier failed; a later copy attempt ends it (a stored one, or a
    failure that opens its own condition). Driven by the failed attempts (rare), each checked for a later attempt
    of its database in its tier, rather than reading every copy ever made."""
    later = Artifact.objects.filter(tier=OuterRef("tier"), run__database=OuterRef("run__database"),
                                    run__created_at__gt=OuterRef("run__created_at"))
    standing = (Artifact.objects.filter(status=Artifact.Status.FAILED, tier__enabled=True).exclude(Exists(later))
                .select_related("run__database", "tier").order_by("run__created_at", "pk"))
    for a in standing:
        database, tier = a.run.database, a.tier
        yield Condition(
            key=_pair_key(Kind.UPLOAD_FAILED, database, tier), kind=Kind.UPLOAD_FAILED, severity=Severity.WARNING,
            title=f"Copy of {database.name} to {tier.name} failed",
            message=f"Backup #{a.run_id} of {database.name} could not be stored in {tier.name}: {a.error}",
            link=a.run.get_absolute_url(), database=database, tier=tier, details={"run_id": a.run_id},
        )


def retention_refused(now: datetime) -> Iterator[Condition]:
    """Retention wanted to delete but a safety rule kept the copy: open while refusals keep being reported."""
    window = timedelta(hours=settings.LIFEBOAT_ALERT_EVENT_HOURS)
    recent = (Observation.objects.filter(kind=Kind.RETENTION_REFUSED, active=True, observed_at__gte=now - window)
              .exclude(tier__enabled=False))
    for obs in recent.select_related("tier"):
        yield Condition(
            key=obs.key, kind=Kind.RETENTION_REFUSED, severity=Severity.WARNING,
            title=f"Retention refused to delete in {obs.tier.name if obs.tier else 'a tier'}", message=obs.message,
            tier=obs.tier, details=obs.details,
        )


def bucket_drift(now: datetime) -> Iterator[Condition]:
    """The last check of a bucket found differences from its declared policy; a clean check ends it."""
    drifted = Observation.objects.filter(kind=Kind.BUCKET_DRIFT, active=True).exclude(tier__enabled=False)
    for obs in drifted.select_related("tier"):
        yield Condition(
            key=obs.key, kind=Kind.BUCKET_DRIFT, severity=Severity.CRITICAL,
            title=f"Bucket of {obs.tier.name if obs.tier else 'a tier'} drifted from its policy",
            message=obs.message, tier=obs.tier, details=obs.details,
        )


def audit_chain(now: datetime) -> Iterator[Condition]:
    """The last scheduled verification of the audit trail found it edited, shortened or reordered."""
    for obs in Observation.objects.filter(kind=Kind.AUDIT_CHAIN_BROKEN, active=True):
        yield Condition(key=obs.key, kind=Kind.AUDIT_CHAIN_BROKEN, severity=Severity.CRITICAL,
                        title="The audit trail was tampered with", message=obs.message, link="/audit/",
                        details=obs.details)


DRILL_KINDS = {"overdue": Kind.DRILL_OVERDUE, "missing": Kind.DRILL_MISSING, "unsigned": Kind.DRILL_UNSIGNED}


def drills_attention(now: datetime) -> Iterator[Condition]:
    """Drills that are overdue, missing or unsigned, as the drills app reports them."""
    from drills.health import attention

    for item in attention(now):
        kind = DRILL_KINDS.get(str(item.kind))
        if kind is None:
            continue
        drill = item.drill  # None when no drill is planned at all for the month's slot
        if drill is None:
            yield Condition(key=f"{kind}:schedule", kind=kind, severity=Severity.WARNING,
                            title=f"{Kind(kind).label}: no real drill on schedule", message=str(item.message))
            continue
        link = drill.get_absolute_url() if hasattr(drill, "get_absolute_url") else ""
        yield Condition(
            key=f"{kind}:drill:{drill.pk}", kind=kind, severity=Severity.WARNING,
            title=f"{Kind(kind).label}: {drill}", message=str(item.message), link=link,
            details={"drill_id": drill.pk},
        )


RULES: dict[str, tuple[Callable[[datetime], Iterable[Condition]], tuple[str, ...]]] = {
    "backup_failed": (backup_failed, (Kind.BACKUP_FAILED,)),
    "backup_warnings": (backup_warnings, (Kind.BACKUP_WARNINGS,)),
    "verification_failed": (verification_failed, (Kind.VERIFICATION_FAILED,)),
    "verification_error": (verification_error, (Kind.VERIFICATION_ERROR,)),
    "freshness": (freshness, (Kind.FRESHNESS,)),
    "upload_failed": (upload_failed, (Kind.UPLOAD_FAILED,)),
    "retention_refused": (retention_refused, (Kind.RETENTION_REFUSED,)),
    "bucket_drift": (bucket_drift, (Kind.BUCKET_DRIFT,)),
    "audit_chain": (audit_chain, (Kind.AUDIT_CHAIN_BROKEN,)),
    "drills": (drills_attention, (Kind.DRILL_OVERDUE, Kind.DRILL_MISSING, Kind.DRILL_UNSIGNED)),
}


@dataclass
class Snapshot:
    conditions: dict[str, Condition]
    unknown_kinds: set[str]  # kinds whose rule failed this time: their open alerts are neither resolved nor fired


def current_conditions(now: datetime) -> Snapshot:
    conditions: dict[str, Condition] = {}
    unknown: set[str] = set()
    for name, (rule, kinds) in RULES.items():
        try:
            found = list(rule(now))
        except Exception:  # one broken rule must not silence (or resolve) the others
            log.exception("alert rule %s failed", name)
            unknown.update(kinds)
            continue
        conditions.update((c.key, c) for c in found)
    return Snapshot(conditions, unknown)


def dashboard_link(path: str) -> str:
    base = settings.LIFEBOAT_BASE_URL.rstrip("/")
    return f"{base}{path}" if base and path else path

