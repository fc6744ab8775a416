"""The scope of an evidence request: a period of whole UTC days and, optionally, some databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from backups.models import Database


class ScopeError(ValueError):
    """Bad input from an auditor or the command line: one clear line."""


def parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise ScopeError(f"{what} must be a date as YYYY-MM-DD, not {value!r}") from None


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
        return datetime.combine(self.since, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC)

    def describe(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "timezone": "UTC",
                "start_inclusive": self.start.isoformat(), "end_exclusive": self.end.isoformat(),
                "databases": list(self.databases) or "all"}
