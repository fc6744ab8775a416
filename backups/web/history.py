"""The backup history's filters and sorting, kept out of the view so the page and its tests share them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import QueryDict

from backups.models import Artifact, BackupRun, Database, Tier

# Column key -> ORDER BY; every one ends in -pk so pages never overlap when values tie.
SORTS = {
    "started": ("-created_at", "-pk"), "-started": ("created_at", "pk"),
    "database": ("database__name", "-created_at", "-pk"), "-database": ("-database__name", "-created_at", "-pk"),
    "size": (F("size_bytes").desc(nulls_last=True), "-pk"), "-size": (F("size_bytes").asc(nulls_last=True), "-pk"),
    "duration": (F("took").desc(nulls_last=True), "-pk"), "-duration": (F("took").asc(nulls_last=True), "-pk"),
    "status": ("status", "-created_at", "-pk"), "-status": ("-status", "-created_at", "-pk"),
}
# Columns whose natural order is largest/newest first (clicking them first sorts descending).
DESCENDING_FIRST = {"started", "size", "duration"}


@dataclass(frozen=True)
class HistoryFilters:
    database: str = ""
    tier: str = ""
    status: str = ""
    since: date | None = None
    until: date | None = None
    verified: str = ""  # "yes", "no" or "" (either)
    sort: str = "started"

    @classmethod
    def from_query(cls, query: QueryDict) -> HistoryFilters:
        def day(key: str) -> date | None:
            try:
                return date.fromisoformat(query.get(key, ""))
            except ValueError:  # an unparsable date filters nothing rather than failing the page
                return None

        return cls(database=query.get("database", ""), tier=query.get("tier", ""),
                   status=query.get("status", "") if query.get("status") in BackupRun.Status.values else "",
                   since=day("since"), until=day("until"),
                   verified=query.get("verified", "") if query.get("verified") in ("yes", "no") else "",
                   sort=query.get("sort", "started") if query.get("sort") in SORTS else "started")

    def direction(self, column: str) -> str:
        """"ascending", "descending" (the aria-sort words) when the history is sorted by `column`, else ""."""
        if self.sort.lstrip("-") != column:
            return ""
        descending = (column in DESCENDING_FIRST) != self.sort.startswith("-")
        return "descending" if descending else "ascending"

    @property
    def inverted(self) -> bool:
        """From is after Until: no day is in that range, which deserves a word rather than an empty table."""
        return bool(self.since and self.until and self.since > self.until)

    def swapped_querystring(self) -> str:
        return self.querystring(since=self.until, until=self.since)

    def querystring(self, **override) -> str:
        """This filter set as a query string (for pager and sort links), with some values replaced."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | override
        q = QueryDict(mutable=True)
        for key, value in values.items():
            if value:
                q[key] = value.isoformat() if isinstance(value, date) else value
        return q.urlencode()


def _proven() -> Exists:
    """A copy of the run is verified: its newest decided verification passed."""
    return Exists(Artifact.objects.filter(run=OuterRef("pk")).verified())


def runs(filters: HistoryFilters) -> QuerySet[BackupRun]:
    # "verified" is a filter here only when asked for: as a column of every row, PostgreSQL computes it by hashing
    # every passed verification (370 ms at 100,000 runs); mark_proven() answers it for one page instead.
    qs = BackupRun.objects.select_related("database").annotate(took=F("finished_at") - F("started_at"))
    if filters.database:
        qs = qs.filter(database__name=filters.database)
    if filters.tier:
        qs = qs.filter(Exists(Artifact.objects.filter(run=OuterRef("pk"), tier__name=filters.tier)))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.since:
        qs = qs.filter(created_at__date__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__date__lte=filters.until)
    if filters.verified:
        qs = qs.filter(_proven() if filters.verified == "yes" else ~_proven())
    return qs.order_by(*SORTS[filters.sort])


def mark_proven(page_runs: list[BackupRun]) -> list[BackupRun]:
    """Set `proven` on each run of one page: whether a copy of it is verified (one query)."""
    proven = set(Artifact.objects.filter(run__in=page_runs).verified().values_list("run_id", flat=True))
    for run in page_runs:
        run.proven = run.pk in proven
    return page_runs


def filter_choices() -> dict:
    return {"databases": list(Database.objects.order_by("name").values_list("name", flat=True)),
            "tiers": list(Tier.objects.order_by("position", "name").values_list("name", flat=True)),
            "statuses": BackupRun.Status.choices}
