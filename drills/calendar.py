"""When drills are due: the plan's "first Sunday of each month, 8 AM UTC"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DRILL_HOUR = 8


def first_sunday(year: int, month: int) -> datetime:
    first = datetime(year, month, 1, DRILL_HOUR, tzinfo=UTC)
    return first + timedelta(days=(6 - first.weekday()) % 7)


def first_sunday_of_next_month(moment: datetime) -> datetime:
    """08:00 UTC on the first Sunday of the month after `moment`'s month (the default slot for a new drill)."""
    moment = moment.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return first_sunday(year, month)
