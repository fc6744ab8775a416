"""The overview's data in a constant number of queries, however many runs and artifacts exist.

Database.freshness(tier) answers one cell with two queries; the matrix asks the same question for every cell at
once: one query with a correlated subquery per tier (newest good run with a live copy in the tier) and, for tiers
whose freshness needs verification, a second (newest good run with a verified copy). Each subquery walks the
database's runs newest first through run_db_created_idx and probes the copy through the unique (run, tier) index,
so it stops after a run or two however long the history is; driving from the artifacts instead scans every copy
in the tier (3 s at 300,000 copies on SQLite). One last query reads those runs, each with its copy in every tier
(one join per tier through the same unique index) and the copy's verdict.

At a thousand databases x three tiers the time was Python, not SQL: a model instance for every database, copy and
run. The matrix is built from plain rows instead (values_list of the columns a cell shows, into DatabaseRow,
RunRow and CopyRow, which answer the attributes the templates, /metrics and the API read), each run read once
for all its copies, and each cell's freshness said by the same FreshnessReport.evaluate (backups.models.runs) the
model path (Database.freshness) uses: there is one freshness rule.

What a cell shows goes beyond freshness (cell_states): whether the newest copy's newest decided verification failed,
whether the database's backups have been failing since its last good run (and how many attempts), or whether the
database is archived (scheduled backups off). Each is one more query for the whole matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, DateTimeField, Exists, FilteredRelation, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from backups.models import Artifact, BackupRun, Database, Freshness, FreshnessReport, Tier, Verification
from backups.models.common import Timed, rpo_of
from backups.models.tags import tag_list
from core.links import lazy_link_maker

RECENT_FAILURES = 5
FAILED_RUN = (BackupRun.Status.FAILED, BackupRun.Status.ABANDONED)
DECIDED = (Verification.Status.PASSED, Verification.Status.FAILED)
FEW_DATABASES = 50  # up to this many, failing_databases() filters by database in SQL


@dataclass(frozen=True)
class Failing:
    """Every backup of a database since its last good run (or ever) failed."""
    since: datetime  # the first failed attempt after the last good run
    attempts: int
    last_attempt: datetime
    never_succeeded: bool


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class DatabaseRow:
    """The columns of a database the matrix and its readers use (the overview, its groups and problems, /metrics,
    the API), read with values_list: no model instance per database. Same names as Database's."""
    pk: int
    name: str
    host: str
    port: int
    rpo_hours: int
    enabled: bool
    tags: str
    system_identifier: str
    created_at: datetime
    link: Callable[[str], str]  # name -> the database's page (core.links.lazy_link_maker: reversed when first used)

    COLUMNS = ("pk", "name", "host", "port", "rpo_hours", "enabled", "tags", "system_identifier", "created_at")

    def __str__(self) -> str:
        return self.name

    @property
    def id(self) -> int:
        return self.pk

    @property
    def rpo(self) -> timedelta:
        return rpo_of(self.rpo_hours)

    @property
    def tag_list(self) -> list[str]:
        return tag_list(self.tags)

    @property
    def url(self) -> str:
        return self.link(self.name)

    def get_absolute_url(self) -> str:
        return self.link(self.name)


@dataclass(frozen=True)
class RunRow(Timed):
    """A good run as a cell shows it (BackupRun's names; `duration` from the same Timed)."""
    pk: int
    started_at: datetime | None
    finished_at: datetime | None
    warnings: list[str]
    link: Callable[[int], str]

    COLUMNS = ("pk", "started_at", "finished_at", "warnings")

    @property
    def id(self) -> int:
        return self.pk

    @property
    def has_warnings(self) -> bool:
        return bool(self.warnings)  # BackupRun.has_warnings: the matrix holds succeeded runs only

    @property
    def url(self) -> str:
        return self.link(self.pk)

    def get_absolute_url(self) -> str:
        return self.link(self.pk)


@dataclass(frozen=True, slots=True)
class CopyRow:
    """A run's copy in a tier as a cell shows it (Artifact's names, `verdict` as with_verdict() gives it)."""
    pk: int
    run_id: int
    tier_id: int
    size_bytes: int | None
    verdict: str | None
    run: RunRow

    @property
    def id(self) -> int:
        return self.pk


@dataclass
class MatrixRow:
    database: DatabaseRow
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
    records = list((databases if databases is not None else Database.objects.all())
                   .order_by("name").annotate(**annotations).values_list(*DatabaseRow.COLUMNS, *annotations))
    found = len(DatabaseRow.COLUMNS)
    # Where each tier's run ids sit in a record (None: not searched, the tier holds no copy).
    at = {name: found + i for i, name in enumerate(annotations)}
    plan = [(tier.pk, tier.require_verified, at.get(f"newest_{tier.pk}"), at.get(f"verified_{tier.pk}"))
            for tier in tiers]
    copies = _copies({run for record in records for run in record[found:]} - {None},
                     [t.pk for t in tiers if t.pk in stocked])
    database_link = lazy_link_maker("backups:database_detail", "lifeboat-sample-name")
    evaluate = FreshnessReport.evaluate
    passed = Verification.Status.PASSED
    rows = []
    for record in records:
        db = DatabaseRow(*record[:found], link=database_link)
        rpo = db.rpo
        cells = []
        for tier_pk, require_verified, newest_at, verified_at in plan:
            newest = copies.get((record[newest_at], tier_pk)) if newest_at is not None else None
            if require_verified:
                newest_verified = copies.get((record[verified_at], tier_pk)) if verified_at is not None else None
            else:
                newest_verified = newest if newest is not None and newest.verdict == passed else None
            cells.append(evaluate(newest=newest, newest_verified=newest_verified, require_verified=require_verified,
                                  rpo=rpo, now=now, newest_verdict=newest.verdict if newest else None))
        rows.append(MatrixRow(db, cells))
    return rows


def _copies(run_ids: set[int], tier_ids: list[int]) -> dict[tuple[int, int], CopyRow]:
    """(run, tier) -> the run's copy there, for these runs in these tiers: one query, one row per run (its copy in
    each tier by a join through the unique (run, tier) index), so a run's times are read once for all its copies.
    A run's table counts and log can be large and no cell shows them: not read."""
    if not run_ids or not tier_ids:
        return {}
    joins = {f"in_{tier}": FilteredRelation("artifacts", condition=Q(artifacts__tier=tier)) for tier in tier_ids}
    copy_columns = [f"{join}__{column}" for join in joins for column in ("pk", "size_bytes", "last_verdict")]
    rows = (BackupRun.objects.filter(pk__in=run_ids).annotate(**joins).order_by()
            .values_list(*RunRow.COLUMNS, *copy_columns))
    run_link = lazy_link_maker("backups:run_detail", 1)
    found = len(RunRow.COLUMNS)
    places = [(tier, found + 3 * i) for i, tier in enumerate(tier_ids)]
    copies = {}
    for row in rows:
        run_id = row[0]
        run = RunRow(*row[:found], link=run_link)
        for tier, i in places:
            if row[i] is not None:
                # last_verdict '' is "none decided": None, as Artifact.objects.with_verdict() says it
                copies[run_id, tier] = CopyRow(row[i], run_id, tier, row[i + 1], row[i + 2] or None, run)
    return copies


def failing_databases(database_ids: list[int]) -> dict[int, Failing]:
    """Databases whose attempts since their last good run all failed, in one query driven by the databases: per
    database its last good run (one probe of run_db_status_created_idx), then its failed runs after it (a range of
    the same index, empty for a healthy database). The cost follows the number of databases and of recent
    failures, not the whole history's failed runs (it walked every failed run ever: 4,000 at 100,000 runs)."""
    last_good = BackupRun.objects.good().filter(database=OuterRef("pk")).order_by("-created_at")
    # "After the last good run, or ever": one range of the index (an OR with "no good run" would scan them all).
    after = Coalesce(OuterRef("last_good"), Value(datetime.min.replace(tzinfo=UTC)), output_field=DateTimeField())
    since_good = BackupRun.objects.filter(database=OuterRef("pk"), status__in=FAILED_RUN, created_at__gt=after)
    databases = Database.objects.all()
    if len(database_ids) <= FEW_DATABASES:
        databases = databases.filter(pk__in=database_ids)
    # else: a fleet's ids as an IN list cost more to send than they save (about 15 ms at 1,000); every database
    # is read and the dict keeps those asked for.
    rows = (databases.order_by()
            .annotate(last_good=Subquery(last_good.values("created_at")[:1]))
            .annotate(since=Subquery(since_good.order_by("created_at").values("created_at")[:1]))
            .filter(since__isnull=False)
            .annotate(last=Subquery(since_good.order_by("-created_at").values("created_at")[:1]),
                      attempts=Subquery(since_good.order_by().values("database").annotate(n=Count("pk"))
                                        .values("n")))
            .values_list("pk", "since", "attempts", "last", "last_good"))
    wanted = set(database_ids)
    return {pk: Failing(since, attempts, last, last_good is None)
            for pk, since, attempts, last, last_good in rows if pk in wanted}


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
        row.states = [_state(row.database, cell, checks.get(cell.newest.pk) if checks and cell.newest else None,
                             row.failing) for cell in row.cells]
    return rows


def _state(database: DatabaseRow, report: FreshnessReport, check: Verification | None, failing: Failing | None
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
