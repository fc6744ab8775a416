"""The overview's data in a constant number of queries, however many runs and artifacts exist.

Database.freshness(tier) answers one cell with two queries; the matrix asks the same question for every cell at
once: one query with a correlated subquery per tier (newest good run with a live copy in the tier) and, for tiers
whose freshness needs verification, a second (newest good run with a verified copy). Each subquery walks the
database's runs newest first through run_db_created_idx and probes the copy through the unique (run, tier) index,
so it stops after a run or two however long the history is; driving from the artifacts instead scans every copy
in the tier (3 s at 300,000 copies on SQLite). One last query reads the copies of those runs with the verdict of
each one's newest decided verification.

What a cell shows goes beyond freshness (cell_states): whether the newest copy's newest decided verification failed,
whether the database's backups have been failing since its last good run (and how many attempts), or whether the
database is archived (scheduled backups off). Each is one more query for the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery

from backups.models import Artifact, BackupRun, Database, Freshness, FreshnessReport, Tier, Verification

RECENT_FAILURES = 5
FAILED_RUN = (BackupRun.Status.FAILED, BackupRun.Status.ABANDONED)
DECIDED = (Verification.Status.PASSED, Verification.Status.FAILED)


@dataclass(frozen=True)
class Failing:
    """Every backup of a database since its last good run (or ever) failed."""
    since: datetime  # the first failed attempt after the last good run
    attempts: int
    last_attempt: datetime
    never_succeeded: bool


@dataclass(frozen=True)
class CellState:
    """What one cell of the matrix shows: freshness, plus what freshness alone hides."""
    report: FreshnessReport
    state: str  # a Freshness value, or "failing", "verification-failed", "archived"
    check: Verification | None = None  # the newest copy's newest decided verification, when it failed
    failing: Failing | None = None

    @property
    def newest(self) -> Artifact | None:
        return self.report.newest

    @property
    def is_problem(self) -> bool:
        return self.state not in (Freshness.OK, "archived")


@dataclass
class MatrixRow:
    database: Database
    cells: list[FreshnessReport]
    states: list[CellState] = field(default_factory=list)
    failing: Failing | None = None


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
    # A tier that holds no live copy at all (new, or just added) is "never" for every database without asking:
    # its subqueries would find nothing and walk each database's whole history to prove it (75 -> 361 ms).
    stocked = set(Tier.objects.filter(pk__in=[t.pk for t in tiers])
                  .filter(Exists(Artifact.objects.live().filter(tier=OuterRef("pk")))).values_list("pk", flat=True))
    for tier in tiers:
        if tier.pk not in stocked:
            continue
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
        # A run's table counts and log can be large and no cell shows them: not read for a thousand cells.
        for copy in (Artifact.objects.select_related("run").defer("run__row_counts", "run__log")
                     .filter(run_id__in=wanted, tier__in=tiers).with_verdict()):
            copies[copy.run_id, copy.tier_id] = copy
    rows = []
    for db in databases:
        cells = []
        for tier in tiers:
            newest = copies.get((getattr(db, f"newest_{tier.pk}", None), tier.pk))
            if tier.require_verified:
                newest_verified = copies.get((getattr(db, f"verified_{tier.pk}", None), tier.pk))
            else:
                passed = newest is not None and newest.verdict == Verification.Status.PASSED
                newest_verified = newest if passed else None
            cells.append(FreshnessReport.evaluate(
                newest=newest, newest_verified=newest_verified, require_verified=tier.require_verified,
                rpo=db.rpo, now=now, newest_verdict=newest.verdict if newest else None))
        rows.append(MatrixRow(db, cells))
    return rows


def failing_databases(database_ids: list[int]) -> dict[int, Failing]:
    """Databases whose attempts since their last good run all failed: one grouped query over the failed runs."""
    last_good = BackupRun.objects.good().filter(database=OuterRef("database")).order_by("-created_at")
    failed = (BackupRun.objects.filter(status__in=FAILED_RUN, database_id__in=database_ids)
              .alias(last_good=Subquery(last_good.values("created_at")[:1]))
              .filter(Q(last_good__isnull=True) | Q(created_at__gt=F("last_good"))))
    rows = (failed.order_by().values("database_id")
            .annotate(since=Min("created_at"), last=Max("created_at"), attempts=Count("pk"),
                      never=Count("pk", filter=Q(last_good__isnull=True))))
    return {r["database_id"]: Failing(r["since"], r["attempts"], r["last"], bool(r["never"])) for r in rows}


def newest_checks(copy_ids: list[int]) -> dict[int, Verification]:
    """The newest decided (passed or failed) verification of each copy, in one query."""
    if not copy_ids:
        return {}
    newest = (Verification.objects.filter(artifact=OuterRef("artifact"), status__in=DECIDED)
              .order_by("-created_at", "-pk").values("pk")[:1])
    checks = Verification.objects.filter(artifact_id__in=copy_ids, pk=Subquery(newest))
    return {v.artifact_id: v for v in checks}


def cell_states(rows: list[MatrixRow]) -> list[MatrixRow]:
    """Fill each row's states and failing: what the overview's cells and its one-line answer are made of."""
    failing = failing_databases([row.database.pk for row in rows])
    # Only a failed one is shown (with when it failed): the others are not fetched.
    checks = newest_checks([cell.newest.pk for row in rows for cell in row.cells
                            if cell.newest is not None and cell.newest.verdict == Verification.Status.FAILED])
    for row in rows:
        row.failing = failing.get(row.database.pk)
        row.states = [_state(row.database, cell, checks.get(cell.newest.pk) if cell.newest else None, row.failing)
                      for cell in row.cells]
    return rows


def _state(database: Database, report: FreshnessReport, check: Verification | None, failing: Failing | None
           ) -> CellState:
    if not database.enabled:
        state = "archived"
    elif failing is not None:
        state = "failing"
    elif check is not None and check.status == Verification.Status.FAILED:
        state = "verification-failed"
    else:
        state = str(report.status)
    return CellState(report, state, check, failing)


def running_runs() -> list[BackupRun]:
    return list(BackupRun.objects.active().select_related("database").order_by("created_at"))


@dataclass(frozen=True)
class Failure:
    what: str  # "Backup" or "Verification"
    at: datetime
    database: Database
    link: str
    error: str
    title: str


def recent_failures(limit: int = RECENT_FAILURES) -> list[Failure]:
    """The newest failed backups and failed verifications, newest first (two bounded queries)."""
    runs = (BackupRun.objects.filter(status__in=FAILED_RUN).select_related("database")
            .order_by("-created_at")[:limit])
    checks = (Verification.objects.filter(status=Verification.Status.FAILED)
              .select_related("artifact__run__database", "artifact__tier").order_by("-created_at")[:limit])
    failures = [Failure("Backup", r.created_at, r.database, r.get_absolute_url(), r.error,
                        f"#{r.pk} {r.database.name}") for r in runs]
    failures += [Failure("Verification", v.finished_at or v.created_at, v.artifact.run.database,
                         v.artifact.run.get_absolute_url(), v.error or _failed_checks(v),
                         f"#{v.artifact.run_id} {v.artifact.run.database.name} in {v.artifact.tier.name}")
                 for v in checks]
    return sorted(failures, key=lambda f: f.at, reverse=True)[:limit]


def _failed_checks(verification: Verification) -> str:
    return "; ".join(f"{c.get('name')}: {c.get('detail', '')}" for c in verification.checks if not c.get("ok"))


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
