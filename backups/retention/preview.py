"""The tier page's retention preview at any size: the plan's counts and one page of its decisions, reading a
bounded number of rows whatever the tier holds.

A copy's decision depends only on its database's deciding copies (planner.deciding_ids): the newest few, the
newest verified and the newest judged one, each month's keeper. Each of them is the first copy of its database
(or of its database and month) in time order, with or without a verdict or the archive prefix, so an index walk
with LIMIT finds it (BackupRun's run_db_taken_idx): one query reads the candidates all those walks find for every
database of the tier, and the planner picks the deciding copies out of them and plans them. Every other copy is
decided alone (planner.decide_alone): kept while held or young, else deleted, unless its database's newest judged
copy failed verification. So the counts are one aggregate over artifact_tier_live_idx (expiring copies, in frozen
databases or not) corrected by the deciding copies, and a page is the oldest copies of its category, walked in
time order (run_taken_idx) up to the page's end. No query sorts or ranks the tier's copies; a page deep in the
list walks as far as its offset. tests/test_retention_bounded_plan.py proves both halves equal to planning all.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import reduce

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from backups.models import Artifact, BackupRun, Database, Feature, Tier
from backups.retention import planner
from backups.retention.applier import policy_for

DELETE, REFUSE, KEEP = 0, 1, 2
FIELDS = ("pk", "run_id", "run__database__name", "taken", "last_verdict", "legal_hold", "location")
# When a copy was taken, as the planner sees it; BackupRun's run_db_taken_idx and run_taken_idx index it.
TAKEN = Coalesce("run__started_at", "run__created_at")


class _Unindexed(Func):
    """`+column` on SQLite: the column's value, by which no index is searched (SQLite's documented way to steer its
    planner). Plain on PostgreSQL, whose statistics choose the walk, and whose estimates `+` would blind."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra_context)


def _copies(tier: Tier, walked: bool = False) -> QuerySet:
    """The copies the applier plans (applier.copies_for), with their time as the planner sees it.

    walked: the query walks BackupRun's time indexes and looks each run's copy up. Without statistics SQLite would
    rather read every copy of the tier by artifact_tier_live_idx and sort them, so there the copy's columns are
    compared unindexed."""
    if not walked:
        copies = Artifact.objects.live().filter(tier=tier)
    else:
        copies = Artifact.objects.alias(
            walk_tier=_Unindexed("tier_id", output_field=IntegerField()),
            walk_status=_Unindexed("status", output_field=CharField()),
            walk_deleted=_Unindexed("deleted_at", output_field=DateTimeField()),
        ).filter(walk_tier=tier.pk, walk_status=Artifact.Status.STORED, walk_deleted__isnull=True)
    copies = copies.filter(run__status=BackupRun.Status.SUCCEEDED)
    return copies.annotate(taken=TAKEN).order_by()  # no Meta.ordering sort


def _copy(row: tuple, tier: Tier) -> planner.Copy:
    pk, _run, database, taken, verdict, legal_hold, location = row[:7]
    return planner.Copy(id=pk, database=database, taken_at=taken,
                        verification=planner.Verdict(verdict) if verdict else planner.Verdict.NONE,
                        legal_hold=legal_hold,
                        archived=bool(tier.archive_prefix) and location.startswith(tier.archive_prefix))


def _month_start(now: datetime, months_back: int) -> datetime:
    index = now.year * 12 + now.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _months(first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) of every UTC month from first's to last's."""
    months, start = [], datetime(first.year, first.month, 1, tzinfo=UTC)
    while start <= last:
        end = _month_start(start, -1)
        months.append((start, end))
        start = end
    return months


class _Walks:
    """Index walks through one database's copies in time order (run_db_taken_idx) that each stop at the first copy
    they want: the copies applier.copies_for plans (live, of a succeeded run, in this tier), a condition more,
    LIMIT 1 at an offset. Every walk runs for every database of the tier, and all of them in one statement, whose
    ids select the candidate copies: `walks` UNION ALL over a materialized list of the tier's databases.
    Written out rather than composed by the ORM: the page asks for tens of them, and composing each as a Subquery
    took longer than running them all."""

    TAKEN = "COALESCE(r.started_at, r.created_at)"  # TAKEN, written as the indexes' expression
    MAX_BRANCHES = 400  # below SQLite's 500 terms of a compound SELECT

    def __init__(self, tier: Tier):
        self.tier = tier
        quote = connection.ops.quote_name
        unindexed = "+" if connection.vendor == "sqlite" else ""  # as _copies(walked=True)
        self.sql = (
            f"SELECT {{column}} FROM {quote(Artifact._meta.db_table)} a "
            f"INNER JOIN {quote(BackupRun._meta.db_table)} r ON a.run_id = r.id "
            f"WHERE r.database_id = {{database}}.id AND r.status = %s AND {unindexed}a.tier_id = %s "
            f"AND {unindexed}a.status = %s AND {unindexed}a.deleted_at IS NULL{{where}} "
            f"ORDER BY {self.TAKEN} {{order}}, a.id {{order}} LIMIT 1 OFFSET {{offset}}")
        self.params = [BackupRun.Status.SUCCEEDED, tier.pk, Artifact.Status.STORED]
        self.databases = quote(Database._meta.db_table)

    def walk(self, newest: bool, where: str = "", params: tuple = (), offset: int = 0,
             database: str = "d") -> tuple[str, list]:
        order = "DESC" if newest else "ASC"
        sql = self.sql.format(column="a.id", where=where, offset=offset, order=order, database=database)
        return sql, [*self.params, *params]

    def per_database(self, policy: planner.Policy) -> list[tuple[str, list]]:
        """The max(keep_last, 1) newest copies, the newest verified and the newest judged, the oldest."""
        walks = [self.walk(newest=True, offset=i) for i in range(max(policy.keep_last, 1))]
        walks.append(self.walk(newest=True, where=" AND a.last_verdict = %s", params=(planner.Verdict.PASSED,)))
        walks.append(self.walk(newest=True, where=" AND a.last_verdict IN (%s, %s)",
                               params=(planner.Verdict.PASSED, planner.Verdict.FAILED)))
        if policy.monthly_forever:
            walks.append(self.walk(newest=False))
        return walks

    def monthly(self, months: list[tuple[datetime, datetime]]) -> list[tuple[str, list]]:
        """Per month: the first copy, the first verified one and, with an archive prefix, the first archived and the
        first archived and verified one: the month's keeper (archived first, then verified, then the oldest) is
        among them."""
        adapt = connection.ops.adapt_datetimefield_value
        verified = (" AND a.last_verdict = %s", (planner.Verdict.PASSED,))
        kinds = [("", ()), verified]
        if self.tier.archive_prefix:
            prefix = self.tier.archive_prefix
            archived = (" AND SUBSTR(a.location, 1, %s) = %s", (len(prefix), prefix))
            kinds += [archived, (archived[0] + verified[0], archived[1] + verified[1])]
        walks = []
        for start, end in months:
            month = (f" AND {self.TAKEN} >= %s AND {self.TAKEN} < %s", (adapt(start), adapt(end)))
            walks += [self.walk(newest=False, where=month[0] + where, params=month[1] + params)
                      for where, params in kinds]
        return walks

    def statements(self, walks: list[tuple[str, list]]) -> list[RawSQL]:
        """SELECT statements of the ids the walks find, for `pk__in`. The walks search the databases that have a copy
        in the tier (each of theirs would search one without to its end), found by a walk in no order, which may
        take one database's own runs (their foreign key index) to the first with a copy here. Not EXISTS:
        PostgreSQL makes that a join that hashes every run of each database."""
        any_copy, any_params = self.walk(newest=True, database="db")
        any_copy = any_copy.split(" ORDER BY ")[0] + " LIMIT 1"
        databases = (f"WITH d AS MATERIALIZED (SELECT db.id FROM {self.databases} db "
                     f"WHERE ({any_copy}) IS NOT NULL) ")
        statements = []
        for chunk in range(0, len(walks), self.MAX_BRANCHES):
            part = walks[chunk:chunk + self.MAX_BRANCHES]
            sql = databases + " UNION ALL ".join(f"SELECT ({walk}) FROM d" for walk, _ in part)
            statements.append(RawSQL(sql, [*any_params, *(p for _, params in part for p in params)]))
        return statements


def _among(ids: RawSQL | Subquery) -> Q:
    """The copies whose id the statement selects, the statement run once: `id = ANY(ARRAY(...))` on PostgreSQL,
    which searches the primary key by the array whatever its statistics say (before a table's first ANALYZE,
    `IN` became a semi-join that ran the walks again for every copy of the tier); SQLite runs `IN (...)` once."""
    if connection.vendor == "postgresql":
        return Q(Func(F("pk"), ids, template="%(expressions)s)", arg_joiner=" = ANY(ARRAY",
                      output_field=BooleanField()))
    return Q(pk__in=ids)


def _candidates(tier: Tier, policy: planner.Policy, now: datetime, walks: list[tuple[str, list]]) -> list[tuple]:
    """The copies the walks find, as rows: FIELDS, the database's id, and whether the copy expires by its own fields
    (old enough, not held)."""
    rows = {}
    for ids in _Walks(tier).statements(walks):
        found = (_copies(tier, walked=True).filter(_among(ids)).annotate(expiring=_flag(_expiring(policy, now)))
                 .values_list(*FIELDS, "run__database_id", "expiring"))
        rows |= {row[0]: row for row in found}
    return list(rows.values())


def deciding_copies(tier: Tier, policy: planner.Policy, now: datetime) -> list[tuple]:
    """planner.deciding_ids of every database of the tier, picked by the planner out of a bounded superset of
    candidates, each found by an index walk with LIMIT (_Walks): one query, however many databases and copies the
    tier holds (two when the monthly window is "forever": its months start at the oldest copy; or when copies are
    dated after this month)."""
    walks = _Walks(tier)
    monthly = policy.monthly_forever or policy.monthly_months
    walked = [] if policy.monthly_forever or not monthly else _months(_month_start(now, policy.monthly_months - 1), now)
    rows = _candidates(tier, policy, now, walks.per_database(policy) + walks.monthly(walked))
    if monthly and rows:
        first = min(row[3] for row in rows) if policy.monthly_forever else _month_start(now, 0)
        more = [m for m in _months(first, max(now, *(row[3] for row in rows))) if m not in walked]
        if more:
            known = {row[0] for row in rows}
            rows += [row for row in _candidates(tier, policy, now, walks.monthly(more)) if row[0] not in known]
    by_database = defaultdict(list)
    for row in rows:
        by_database[row[2]].append(row)
    deciding = []
    for database_rows in by_database.values():
        ids = planner.deciding_ids([_copy(row, tier) for row in database_rows], policy, now)
        deciding += [row for row in database_rows if row[0] in ids]
    return deciding


def _expiring(policy: planner.Policy, now: datetime) -> Q | None:
    """What decide_alone deletes (or, in a frozen database, keeps by the safety rule): old enough and not held."""
    if policy.legal_hold:
        return None
    return Q(legal_hold=False, taken__lte=now - timedelta(days=policy.keep_days))


def _flag(condition: Q | None) -> Case | Value:
    if condition is None:
        return Value(0, output_field=IntegerField())
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _category(decision: planner.Decision) -> int:
    return DELETE if decision.delete else REFUSE if decision.refused else KEEP


class RetentionPreview:
    """The plan of a tier as a sequence in the page's order (len() and slices), for django's Paginator."""

    def __init__(self, tier: Tier, now: datetime):
        self.tier, self.now = tier, now
        self.policy = policy_for(tier) if tier.can(Feature.ARTIFACTS) else None
        self.total = self.deletions = self.refusals = 0
        if self.policy is None:
            return
        rows = deciding_copies(tier, self.policy, now)
        deciding = [_copy(row, tier) for row in rows]
        self.planned = {d.copy_id: d for d in planner.plan(deciding, self.policy, now).decisions}
        by_database = defaultdict(list)
        for copy in deciding:
            by_database[copy.database].append(copy)
        self.judged = {name: planner.newest_judged(copies) for name, copies in by_database.items()}
        frozen = {row[7] for row in rows if (judged := self.judged[row[2]]) is not None
                  and judged.verification == planner.Verdict.FAILED}
        # A copy outside the deciding set is in the category its own fields give it (decide_alone); a deciding
        # copy in the one its planned decision gives it.
        expiring = _expiring(self.policy, now)
        in_frozen = Q(run__database_id__in=sorted(frozen))
        self.alone: dict[int, Q | None] = {
            DELETE: None if expiring is None else expiring & ~in_frozen if frozen else expiring,
            REFUSE: expiring & in_frozen if expiring is not None and frozen else None,
            KEEP: Q() if expiring is None else ~expiring,
        }
        self.decided = {category: [] for category in (DELETE, REFUSE, KEEP)}
        for pk, decision in self.planned.items():
            self.decided[_category(decision)].append(pk)
        # Of run_id, not of the copy's id: artifact_tier_live_idx holds every column of the copy this reads.
        counted = {str(c): Count("run", filter=q) for c, q in self.alone.items() if c != KEEP and q is not None}
        counts = _copies(tier).aggregate(total=Count("run"), **counted)
        alone = {c: counts.get(str(c), 0) for c in (DELETE, REFUSE)}
        for row in rows:  # a deciding copy leaves the category its own fields give it for its planned one
            if row[8]:
                alone[REFUSE if row[7] in frozen else DELETE] -= 1
        self.total = counts["total"]
        self.deletions = alone[DELETE] + len(self.decided[DELETE])
        self.refusals = alone[REFUSE] + len(self.decided[REFUSE])
        self.sizes = {DELETE: self.deletions, REFUSE: self.refusals, KEEP: self.total - self.deletions - self.refusals}

    def _in_category(self, category: int) -> QuerySet:
        """The copies of one category, oldest first: a walk in time order that stops at the page's end."""
        wanted = Q(pk__in=self.decided[category])
        if self.alone[category] is not None:
            wanted |= self.alone[category] & ~Q(pk__in=list(self.planned))
        return _copies(self.tier, walked=True).filter(wanted).order_by("taken", "pk")

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, window: slice) -> list[dict]:
        if not self.total:
            return []
        start = window.start or 0
        stop = self.total if window.stop is None else min(window.stop, self.total)
        parts, offset = [], 0
        for category in (DELETE, REFUSE, KEEP):  # the page's order: deletions, refusals, the rest
            low, high = max(start - offset, 0), min(stop - offset, self.sizes[category])
            if low < high:
                parts.append(self._in_category(category)[low:high])
            offset += self.sizes[category]
        if len(parts) == 1:
            rows = parts[0].values_list(*FIELDS)
        else:  # a page across categories: still one query, each category's part a walk with LIMIT
            rows = _copies(self.tier, walked=True).filter(
                reduce(operator.or_, [_among(Subquery(part.values("pk"))) for part in parts])).values_list(*FIELDS)
        shown = [(self._decision(row), row[1]) for row in rows]
        shown.sort(key=lambda shown: (_category(shown[0]), shown[0].taken_at, shown[0].copy_id))
        return [{"decision": decision, "run_id": run_id} for decision, run_id in shown]

    def _decision(self, row: tuple) -> planner.Decision:
        if row[0] in self.planned:
            return self.planned[row[0]]
        copy = _copy(row, self.tier)
        return planner.decide_alone(copy, self.policy, self.now, self.judged.get(copy.database))
