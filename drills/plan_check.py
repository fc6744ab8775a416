"""The plan check: can each database's schedule meet each scenario's RPO?

Every scenario of the plan applies to every protected database. The data a disaster can cost is, at worst, the
longest gap between two scheduled backups (croniter walks a fortnight of the database's cron); a scenario's RPO is
met when that gap is no longer than the RPO (the same bound freshness uses: a copy older than the RPO is late).
Nightly backups cannot meet accidental deletion's "< 4 h"; the check says so and names a schedule that would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from backups.models import Database
from drills.models import Scenario
from drills.models.runbook import minutes_label

HORIZON = timedelta(days=14)  # covers weekly and fortnightly patterns
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class RpoCheck:
    database: Database
    scenario: Scenario
    largest_gap: timedelta | None  # None: the cron never fires within the horizon
    meets: bool
    suggestion: str  # a cron that would meet the RPO ("" when it is met already)

    @property
    def gap_label(self) -> str:
        return minutes_label(round(self.largest_gap.total_seconds() / 60)) if self.largest_gap else "never runs"


def largest_gap(schedule: str, start: datetime | None = None, horizon: timedelta = HORIZON) -> timedelta | None:
    start = start or datetime(2026, 1, 5, tzinfo=UTC)  # a fixed Monday: the answer does not drift with the clock
    runs = croniter(schedule, start)
    times = []
    at = runs.get_next(datetime)
    while at <= start + horizon:
        times.append(at)
        at = runs.get_next(datetime)
    if len(times) < 2:
        return None
    return max(later - earlier for earlier, later in zip(times, times[1:], strict=False))


def schedule_meeting(rpo_minutes: int) -> str:
    """The least frequent regular cron whose gap is within the RPO, at the database's 02:00 habit."""
    if rpo_minutes >= DAY_MINUTES:
        return "0 2 * * *"
    if rpo_minutes >= 60:
        hours = max(h for h in (1, 2, 3, 4, 6, 8, 12) if h * 60 <= rpo_minutes)
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    minutes = max(m for m in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if m <= rpo_minutes)
    return f"*/{minutes} * * * *"


def check(database: Database, scenario: Scenario) -> RpoCheck:
    gap = largest_gap(database.schedule)
    meets = gap is not None and gap <= timedelta(minutes=scenario.rpo_minutes) and database.enabled
    return RpoCheck(database, scenario, gap, meets, "" if meets else schedule_meeting(scenario.rpo_minutes))


def for_database(database: Database) -> list[RpoCheck]:
    return [check(database, s) for s in sorted(Scenario.objects.all(), key=lambda s: (s.rank, s.name))]


def for_scenario(scenario: Scenario) -> list[RpoCheck]:
    return [check(db, scenario) for db in Database.objects.filter(enabled=True).order_by("name")]
