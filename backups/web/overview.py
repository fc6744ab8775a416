"""The overview's data in a constant number of queries, however many runs and artifacts exist.

Database.freshness(tier) answers one cell with two queries; the matrix asks the same question for every cell at
once: one query with a correlated subquery per tier (newest good run with a live copy in the tier) and, for tiers
whose freshness needs verification, a second (newest good run with a verified copy). Each subquery walks the
database's runs newest first through run_db_created_idx and probes the copy through the unique (run, tier) index,
so it stops after a run or two however long the history is; driving from the artifacts instead scans every copy
in the tier (3 s at 300,000 copies on SQLite). One last query reads the copies of those runs with the verdict of
each one's newest decided verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from backups.models import Artifact, BackupRun, Database, FreshnessReport, Tier, Verification

RECENT_FAILURES = 5


@dataclass(frozen=True)
class MatrixRow:
    database: Database
    cells: list[FreshnessReport]


def _newest_run(tier: Tier, *, verified: bool) -> Subquery:
    """The id of the database's newest good run with a live (and, if asked, verified) copy in the tier."""
    copies = Artifact.objects.live().filter(run=OuterRef("pk"), tier=tier)
    if verified:
        copies = copies.verified()
    runs = BackupRun.objects.good().filter(Exists(copies), database=OuterRef("pk"))
    # No tie-breaker: ordering by the index alone lets it stop at the first match (runs of one database never
    # share a microsecond; adding -pk makes SQLite sort every run of the database first).
    return Subquery(runs.order_by("-created_at").values("pk")[:1])


def freshness_matrix(tiers: list[Tier], now: datetime, databases: QuerySet[Database] | None = None
                     ) -> list[MatrixRow]:
    annotations = {}
    for tier in tiers:
        annotations[f"newest_{tier.pk}"] = _newest_run(tier, verified=False)
        if tier.require_verified:
            # Only where verification counts do we look further back for the newest verified copy: in a tier
            # whose copies are never verified themselves (S3 beside a verified local copy) that search walks the
            # whole history.
            annotations[f"verified_{tier.pk}"] = _newest_run(tier, verified=True)
    databases = list((databases if databases is not None else Database.objects.all())
                     .order_by("name").annotate(**annotations))
    wanted = {getattr(db, name) for db in databases for name in annotations} - {None}
    copies: dict[tuple[int, int], Artifact] = {}
    if wanted:
        for copy in Artifact.objects.select_related("run").filter(run_id__in=wanted, tier__in=tiers).with_verdict():
            copies[copy.run_id, copy.tier_id] = copy
    rows = []
    for db in databases:
        cells = []
        for tier in tiers:
            newest = copies.get((getattr(db, f"newest_{tier.pk}"), tier.pk))
            if tier.require_verified:
                newest_verified = copies.get((getattr(db, f"verified_{tier.pk}"), tier.pk))
            else:
                passed = newest is not None and newest.verdict == Verification.Status.PASSED
                newest_verified = newest if passed else None
            cells.append(FreshnessReport.evaluate(
                newest=newest, newest_verified=newest_verified, require_verified=tier.require_verified,
                rpo=db.rpo, now=now, newest_verdict=newest.verdict if newest else None))
        rows.append(MatrixRow(db, cells))
    return rows


def running_runs() -> list[BackupRun]:
    return list(BackupRun.objects.active().select_related("database").order_by("created_at"))


def recent_failures(limit: int = RECENT_FAILURES) -> list[BackupRun]:
    return list(BackupRun.objects.filter(status__in=[BackupRun.Status.FAILED, BackupRun.Status.ABANDONED])
                .select_related("database").order_by("-created_at")[:limit])


def next_runs(databases: list[Database], now: datetime) -> list[tuple[datetime, Database]]:
    """When each enabled database's cron fires next (croniter, no query)."""
    return sorted(((db.next_run_after(now), db) for db in databases if db.enabled), key=lambda pair: pair[0])


def verification_beside_protected(rows: list[MatrixRow], limit: int = 5) -> list[str]:
    """Protected databases on the server where verification restores run (a backup's code runs there).

    Without LIFEBOAT_VERIFY_DSN each database is verified on its own server: all of them (from the matrix's rows,
    no query). With it, those whose recorded server identity is the one the newest verification recorded for its
    server: one query, no connection.
    """
    if not settings.LIFEBOAT_VERIFY_DSN:
        return [row.database.name for row in rows[:limit]]
    newest = (Verification.objects.exclude(server_system_identifier="").order_by("-started_at")
              .values("server_system_identifier")[:1])
    return list(Database.objects.filter(system_identifier=Subquery(newest)).order_by("name")
                .values_list("name", flat=True)[:limit])
