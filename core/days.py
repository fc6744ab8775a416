"""Whole UTC days as people type them (YYYY-MM-DD) and the instants that bound them; shared by the audit
trail's filters and the evidence package's period."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


class PeriodError(ValueError):
    """Bad input from a person or the command line: one clear line."""


def parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise PeriodError(f"{what} must be a date as YYYY-MM-DD, not {value!r}") from None


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of(day: date) -> datetime:
    """Exclusive: midnight after the day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
