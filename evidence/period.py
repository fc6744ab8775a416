"""The scope of an evidence request: a period of whole UTC days and, optionally, some databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from backups.models import Database
from core.days import PeriodError as ScopeError  # bad input from an auditor or the command line: one line
from core.days import end_of, parse_day, start_of

__all__ = ["Scope", "ScopeError", "parse_day"]


@dataclass(frozen=True)
class Scope:
    since: date
    until: date  # inclusive
    databases: tuple[str, ...] = field(default_factory=tuple)  # empty: all

    @classmethod
    def build(cls, since: date, until: date, databases=()) -> Scope:
        if until < since:
            raise ScopeError(f"the period ends ({until}) before it starts ({since})")
        names = tuple(sorted({name.strip() for name in databases if name and name.strip()}))
        known = set(Database.objects.filter(name__in=names).values_list("name", flat=True))
        missing = [name for name in names if name not in known]
        if missing:
            raise ScopeError(f"unknown database(s): {', '.join(missing)}")
        return cls(since, until, names)

    @property
    def start(self) -> datetime:
        return start_of(self.since)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return end_of(self.until)

    def describe(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "timezone": "UTC",
                "start_inclusive": self.start.isoformat(), "end_exclusive": self.end.isoformat(),
                "databases": list(self.databases) or "all"}
