"""The tier page's retention preview at any size: the plan's counts and one page of its decisions, in three
queries, without planning (or loading) every copy of the tier.

A copy's decision depends only on its database's deciding copies (planner.deciding_ids): one query with window
functions finds them, and the planner plans them. Every other copy is decided alone (planner.decide_alone): kept
while held or young, else deleted, unless its database's newest judged copy failed verification. So the page's
order (deletions, then refusals, then the rest, each oldest first) and the counts are a CASE in SQL; only the page
shown is turned into decisions. tests/test_retention_bounded_plan.py proves both halves equal to planning all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import Case, CharField, Count, F, IntegerField, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import Cast, Coalesce, RowNumber, Substr

from backups.models import Artifact, BackupRun, Feature, Tier
from backups.retention import planner
from backups.retention.applier import policy_for

DELETE, REFUSE, KEEP = 0, 1, 2
FIELDS = ("pk", "run_id", "run__database__name", "taken", "last_verdict", "legal_hold", "location")


def _copies(tier: Tier) -> QuerySet:
    """The copies the applier plans (applier.copies_for), with their time as the planner sees it."""
    return (Artifact.objects.live().filter(tier=tier, run__status=BackupRun.Status.SUCCEEDED)
            .annotate(taken=Coalesce("run__started_at", "run__created_at")).order_by())  # no Meta.ordering sort


def _copy(row: tuple, tier: Tier) -> planner.Copy:
    pk, _run, database, taken, verdict, legal_hold, location = row
    return planner.Copy(id=pk, database=database, taken_at=taken,
                        verification=planner.Verdict(verdict) if verdict else planner.Verdict.NONE,
                        legal_hold=legal_hold,
                        archived=bool(tier.archive_prefix) and location.startswith(tier.archive_prefix))


def _month_start(now: datetime, months_back: int) -> datetime:
    index = now.year * 12 + now.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _utc_month(taken: F) -> Substr:
    """'YYYY-MM' of a UTC time, natively: Django keeps connections in UTC and SQLite stores ISO text, so the
    text's first seven characters are the UTC month (TruncMonth is a Python function per row on SQLite)."""
    return Substr(Cast(taken, CharField()), 1, 7)


def deciding_copies(tier: Tier, policy: planner.Policy, now: datetime) -> list[tuple]:
    """planner.deciding_ids of every database of the tier, found by the database in one query."""
    database = F("run__database_id")
    newest_first = [F("taken").desc(), F("pk").desc()]
    copies = _copies(tier).annotate(
        passed=Case(When(last_verdict=planner.Verdict.PASSED, then=1), default=0, output_field=IntegerField()),
        judged=Case(When(last_verdict__in=[planner.Verdict.PASSED, planner.Verdict.FAILED], then=1), default=0,
                    output_field=IntegerField()),
    ).annotate(
        # One window (one sort): the rank, and how many verified and judged copies come first: the newest verified
        # is the verified copy with a running count of 1.
        rank=Window(RowNumber(), partition_by=[database], order_by=newest_first),
        passed_before=Window(Sum("passed"), partition_by=[database], order_by=newest_first),
        judged_before=Window(Sum("judged"), partition_by=[database], order_by=newest_first),
    )
    wanted = Q(rank__lte=max(policy.keep_last, 1)) | Q(passed=1, passed_before=1) | Q(judged=1, judged_before=1)
    if policy.monthly_forever or policy.monthly_months:
        # planner.monthly_keepers: per database and UTC month, archived first, then verified, then the oldest.
        archived = (Case(When(location__startswith=tier.archive_prefix, then=1), default=0,
                         output_field=IntegerField()) if tier.archive_prefix else Value(0))
        copies = copies.annotate(archived=archived).annotate(month_rank=Window(
            RowNumber(), partition_by=[database, _utc_month(F("taken"))],
            order_by=[F("archived").desc(), F("passed").desc(), F("taken").asc(), F("pk").asc()]))
        in_window = Q(month_rank=1)
        if not policy.monthly_forever:
            in_window &= Q(taken__gte=_month_start(now, policy.monthly_months - 1))
        wanted |= in_window
    return list(copies.filter(wanted).values_list(*FIELDS))


class RetentionPreview:
    """The plan of a tier as a sequence in the page's order (len() and slices), for django's Paginator."""

    def __init__(self, tier: Tier, now: datetime):
        self.tier, self.now = tier, now
        self.policy = policy_for(tier) if tier.can(Feature.ARTIFACTS) else None
        self.total = self.deletions = self.refusals = 0
        if self.policy is None:
            return
        rows = deciding_copies(tier, self.policy, now)
        self.runs = {row[0]: row[1] for row in rows}
        deciding = [_copy(row, tier) for row in rows]
        self.planned = {d.copy_id: d for d in planner.plan(deciding, self.policy, now).decisions}
        by_database = defaultdict(list)
        for copy in deciding:
            by_database[copy.database].append(copy)
        self.judged = {name: planner.newest_judged(copies) for name, copies in by_database.items()}
        frozen = [name for name, copy in self.judged.items()
                  if copy is not None and copy.verification == planner.Verdict.FAILED]
        self._in_order = self._categorised(frozen)
        counts = self._in_order.aggregate(total=Count("pk"), deletions=Count("pk", filter=Q(category=DELETE)),
                                        refusals=Count("pk", filter=Q(category=REFUSE)))
        self.total, self.deletions, self.refusals = counts["total"], counts["deletions"], counts["refusals"]

    def _categorised(self, frozen: list[str]) -> QuerySet:
        by_decision = defaultdict(list)
        for decision in self.planned.values():
            by_decision[DELETE if decision.delete else REFUSE if decision.refused else KEEP].append(decision.copy_id)
        whens = [When(pk__in=ids, then=Value(category)) for category, ids in sorted(by_decision.items())]
        if not self.policy.legal_hold:
            expiring = Q(legal_hold=False, taken__lte=self.now - timedelta(days=self.policy.keep_days))
            whens += [When(expiring & Q(run__database__name__in=frozen), then=Value(REFUSE)),
                      When(expiring, then=Value(DELETE))]
        return _copies(self.tier).annotate(
            category=Case(*whens, default=Value(KEEP), output_field=IntegerField()))

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, window: slice) -> list[dict]:
        if not self.total:
            return []
        rows = self._in_order.order_by("category", "taken", "pk").values_list(*FIELDS)[window]
        return [{"decision": self._decision(row), "run_id": row[1]} for row in rows]

    def _decision(self, row: tuple) -> planner.Decision:
        if row[0] in self.planned:
            return self.planned[row[0]]
        copy = _copy(row, self.tier)
        return planner.decide_alone(copy, self.policy, self.now, self.judged.get(copy.database))
