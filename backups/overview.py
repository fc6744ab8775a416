"""The overview's data in a constant number of queries, however many runs and artifacts exist.

Database.freshness(tier) answers one cell with two queries; the matrix asks the same question for every cell at
once: one query with two correlated subqueries per tier (newest good copy, newest verified copy), each walking
the run_db_created_idx index newest first and stopping at the first match, then one query for those copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, QuerySet, Subquery

from backups.models import Artifact, BackupRun, Database, FreshnessReport, Tier

RECENT_FAILURES = 5


@dataclass(frozen=True)
class MatrixRow:
    database: Database
    cells: list[FreshnessReport]


def _newest(tier: Tier, *, verified: bool) -> Subquery:
    copies = Artifact.objects.live().filter(run__database=OuterRef("pk"), tier=tier,
                                            run__status=BackupRun.Status.SUCCEEDED)
    if verified:
        copies = copies.verified()
    return Subquery(copies.order_by("-run__created_at", "-run_id").values("pk")[:1])


def freshness_matrix(tiers: list[Tier], now: datetime, databases: QuerySet[Database] | None = None
                     ) -> list[MatrixRow]:
    annotations = {}
    for tier in tiers:
        annotations[f"newest_{tier.pk}"] = _newest(tier, verified=False)
        annotations[f"verified_{tier.pk}"] = _newest(tier, verified=True)
    databases = list((databases if databases is not None else Database.objects.all())
                     .order_by("name").annotate(**annotations))
    wanted = {getattr(db, name) for db in databases for name in annotations} - {None}
    copies = Artifact.objects.select_related("run").in_bulk(wanted) if wanted else {}
    rows = []
    for db in databases:
        cells = [FreshnessReport.evaluate(
            newest=copies.get(getattr(db, f"newest_{tier.pk}")),
            newest_verified=copies.get(getattr(db, f"verified_{tier.pk}")),
            require_verified=tier.require_verified, rpo=timedelta(hours=db.rpo_hours), now=now,
        ) for tier in tiers]
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
