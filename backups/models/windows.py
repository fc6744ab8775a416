"""Backup windows: a database with a window (01:00-05:00 UTC) runs at a time placed in it by a stable hash of its
identity, so the fleet spreads over the window and adding a database never moves the others. Pure functions."""

from __future__ import annotations

import hashlib
from datetime import time

from django.core.exceptions import ValidationError

MINUTES_PER_DAY = 24 * 60
# The day, month and weekday fields an @alias stands for.
ALIAS_DAYS = {"@weekly": ["*", "*", "0"], "@monthly": ["1", "*", "*"], "@yearly": ["1", "1", "*"],
              "@annually": ["1", "1", "*"]}


def window_minutes(start: time, end: time) -> int:
    """Length of the window in minutes; a window may cross midnight (22:00-02:00 is four hours)."""
    return (end.hour * 60 + end.minute - start.hour * 60 - start.minute) % MINUTES_PER_DAY


def validate_window(start: time | None, end: time | None) -> None:
    if start is None and end is None:
        return
    if start is None or end is None:
        raise ValidationError("A window needs both a start and an end (e.g. 01:00 to 05:00 UTC).")
    if start.second or end.second or start.microsecond or end.microsecond:
        raise ValidationError("A window's start and end are whole minutes (e.g. 01:00 to 05:00 UTC).")
    if window_minutes(start, end) == 0:
        raise ValidationError("A window's start and end must differ (a window crossing midnight is fine: "
                              "22:00 to 02:00).")


def placed_minute(identity: str, start: time, end: time) -> tuple[int, int]:
    """(hour, minute) in the window for `identity`: the same for the same identity whatever else is scheduled."""
    digest = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big")
    offset = digest % window_minutes(start, end)
    minute_of_day = (start.hour * 60 + start.minute + offset) % MINUTES_PER_DAY
    return divmod(minute_of_day, 60)


def placed_cron(cron: str, identity: str, start: time, end: time) -> str:
    """The database's cron with its minute and hour replaced by the placed time; its day, month and weekday
    fields stay (they apply to the placed time, even past midnight); an @alias keeps its days (@hourly: daily)."""
    hour, minute = placed_minute(identity, start, end)
    fields = cron.split()
    days = fields[2:] if len(fields) == 5 else ALIAS_DAYS.get(cron.strip(), ["*", "*", "*"])
    return " ".join([str(minute), str(hour), *days])
