"""The overview for hundreds of databases: which rows of the matrix to show (problems only, one tag), in which
groups (by server, by tag) and which page of them. Pure work on the matrix's rows: no query per row; the only
query is the server labels (grouped by server), one however large the fleet; the list of tags comes from the
rows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.core.paginator import Page, Paginator
from django.http import QueryDict

from backups.models import ServerLimit
from backups.models.tags import split_tags
from backups.web.overview import DatabaseRow, MatrixRow

PAGE_SIZE = 50
GROUPINGS = {"": "no grouping", "server": "by server", "tag": "by tag"}
UNIDENTIFIED = "server not identified yet (no backup so far)"
UNTAGGED = "no tag"


@dataclass(frozen=True)
class FleetQuery:
    group: str = ""
    tag: str = ""
    problems: bool = False
    page: str = "1"

    @classmethod
    def from_query(cls, query: QueryDict) -> FleetQuery:
        group = query.get("group", "")
        return cls(group=group if group in GROUPINGS else "", tag=query.get("tag", "").strip().lower(),
                   problems=query.get("problems") == "1", page=query.get("page", "1"))

    def querystring(self, **override) -> str:
        """This query as a query string for pager links and the matrix's refresh, with some values replaced."""
        values = {"group": self.group, "tag": self.tag, "problems": "1" if self.problems else "", "page": self.page}
        q = QueryDict(mutable=True)
        for key, value in (values | override).items():
            if value and not (key == "page" and str(value) == "1"):
                q[key] = value
        return q.urlencode()

    @property
    def base_querystring(self) -> str:
        """The filters without the page (pager links add their own)."""
        return self.querystring(page="")

    @property
    def filtered(self) -> bool:
        return bool(self.tag or self.problems)


@dataclass
class Group:
    name: str
    rows: list[MatrixRow] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(has_problem(row) for row in self.rows)


def has_problem(row: MatrixRow) -> bool:
    return row.failing is not None or any(state.is_problem for state in row.states)


def select(rows: list[MatrixRow], query: FleetQuery) -> list[MatrixRow]:
    if query.tag:
        rows = [row for row in rows if query.tag in row.database.tag_list]
    if query.problems:
        rows = [row for row in rows if has_problem(row)]
    return rows


def server_names(databases: list[DatabaseRow]) -> dict[str, str]:
    """system_identifier -> what people call the server: its ServerLimit label, else host:port of a database."""
    names = {db.system_identifier: f"{db.host}:{db.port}" for db in reversed(databases) if db.system_identifier}
    labels = ServerLimit.objects.filter(system_identifier__in=names).exclude(label="")
    names.update(labels.values_list("system_identifier", "label"))
    return names


def grouped(rows: list[MatrixRow], by: str) -> list[Group]:
    """Rows in groups, groups by name; by tag, a database with two tags shows in both."""
    if not by:
        return [Group("", rows)]
    groups: dict[str, Group] = {}
    names = server_names([row.database for row in rows]) if by == "server" else {}
    for row in rows:
        if by == "server":
            sysid = row.database.system_identifier
            keys = [f"{names[sysid]} ({sysid})" if sysid else UNIDENTIFIED]
        else:
            keys = row.database.tag_list or [UNTAGGED]
        for key in keys:
            groups.setdefault(key, Group(key)).rows.append(row)
    return sorted(groups.values(), key=lambda g: (g.name in (UNIDENTIFIED, UNTAGGED), g.name))


@dataclass(frozen=True)
class FleetPage:
    query: FleetQuery
    page: Page
    groups: list[Group]
    total: int  # databases before filtering
    tags: list[str]
    groupings: tuple = tuple(GROUPINGS.items())


def fleet_page(rows: list[MatrixRow], query: FleetQuery, page_size: int = PAGE_SIZE) -> FleetPage:
    """Filter, then page (a page is PAGE_SIZE databases), then group the page's rows. `rows` is the matrix of
    every database (the tag filter's choices come from them)."""
    page = Paginator(select(rows, query), page_size).get_page(query.page)
    query = replace(query, page=str(page.number))
    return FleetPage(query, page, grouped(list(page.object_list), query.group), len(rows), all_tags(rows))


def all_tags(rows: list[MatrixRow]) -> list[str]:
    """Every tag of the databases in the matrix's rows (no query: the rows hold each database's tags)."""
    tags: set[str] = set()
    for value in {row.database.tags for row in rows} - {""}:
        tags.update(split_tags(value))
    return sorted(tags)
