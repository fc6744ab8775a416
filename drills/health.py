"""What about drills needs attention, and when the next one is due: read by the alerts and the overview.

- overdue: a planned drill's date has passed without it starting, or no real drill has been completed since the
  month's slot (the plan: first Sunday of each month) came and went (before the first drill: since the first
  Sunday of the month after the first database was protected);
- missing: a planned drill's date passed more than a week ago with no result (and no real drill completed since);
- unsigned: a real drill completed more than a week ago is still not signed off.
Simulated drills never count as real ones, so they neither satisfy nor raise any of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backups.models import Database
from drills.calendar import first_sunday, first_sunday_of_next_month
from drills.models import MISSING_AFTER, OVERDUE_AFTER, UNSIGNED_AFTER, Drill, Status


@dataclass(frozen=True)
class Attention:
    kind: str  # "overdue" | "missing" | "unsigned"
    drill: Drill | None
    message: str


@dataclass(frozen=True)
class NextDrill:
    due_at: datetime
    drill: Drill | None  # the planned drill, or None when none is planned yet
    overdue: bool


def last_completed(now: datetime) -> Drill | None:
    return Drill.objects.real().completed().filter(completed_at__lte=now).order_by("-completed_at").first()


def slot_due(now: datetime) -> datetime | None:
    """When the next real drill is due by the monthly rule: the first Sunday of the month after the last one.

    Before any drill, the duty starts with protection: the first Sunday of the month after the first database was
    added (None while nothing is protected, so a fresh install is not alarmed on its first day).
    """
    last = last_completed(now)
    if last is not None:
        # A drill counts for the month it was planned for when that is later than when it ran: December's drill
        # done early on 30 November covers December, so the next one is due in January.
        return first_sunday_of_next_month(max(last.completed_at, last.planned_at))
    first = Database.objects.filter(created_at__lte=now).order_by("created_at").first()
    return first_sunday_of_next_month(first.created_at) if first else None


def attention(now: datetime) -> list[Attention]:
    found: list[Attention] = []
    last = last_completed(now)
    waiting = list(Drill.objects.real().not_started().filter(planned_at__lte=now - OVERDUE_AFTER)
                   .select_related("scenario", "database").order_by("planned_at"))
    for drill in waiting:
        status = drill.status(now)
        if status == Status.OVERDUE:
            found.append(Attention("overdue", drill, f"DR drill {drill} planned for "
                                                     f"{drill.planned_at:%Y-%m-%d %H:%M} UTC has not started"))
        elif status == Status.MISSING and (last is None or drill.planned_at > last.completed_at):
            found.append(Attention("missing", drill, f"DR drill {drill} planned for "
                                                     f"{drill.planned_at:%Y-%m-%d} never ran"))
    due = slot_due(now)
    if not any(a.kind == "overdue" for a in found) and due is not None and now > due + OVERDUE_AFTER:
        since = f"since {last.completed_at:%Y-%m-%d}" if last else "yet"
        found.append(Attention("overdue", None, f"No real DR drill completed {since}: the plan asks for one on "
                                                "the first Sunday of each month"))
    unsigned = (Drill.objects.real().completed().unsigned().filter(completed_at__lt=now - UNSIGNED_AFTER)
                .select_related("scenario").order_by("completed_at"))
    found += [Attention("unsigned", d, f"DR drill {d} completed {d.completed_at:%Y-%m-%d} is not signed off")
              for d in unsigned]
    return found


def next_drill_due(now: datetime) -> NextDrill:
    """The next planned real drill (possibly overdue), else when one is due by the monthly rule."""
    pending = Drill.objects.real().not_started().filter(planned_at__gt=now - MISSING_AFTER)
    for drill in pending.select_related("scenario", "database").order_by("planned_at"):
        status = drill.status(now)
        if status in (Status.PLANNED, Status.OVERDUE):
            return NextDrill(drill.planned_at, drill, status == Status.OVERDUE)
    due = slot_due(now) or first_sunday_of_next_month(now)
    return NextDrill(due, None, now > due + OVERDUE_AFTER)


def missed_between(start: datetime, end: datetime, now: datetime, databases: tuple[str, ...] = ()) -> list[Attention]:
    """The drills a period [start, end) missed, as seen at `now` (for the evidence summary).

    - each real drill planned in the period that never started and is overdue or missing now;
    - each month whose slot (first Sunday, 08:00 UTC) fell in the period and passed, once the duty had started
      (first Sunday of the month after the first database was added), with no real drill completed that month
      and none planned for it left unstarted (already counted above). The monthly rule is for the whole
      installation, so it is not narrowed by `databases`.
    """
    planned = Drill.objects.real().not_started().filter(planned_at__gte=start, planned_at__lt=end)
    if databases:
        planned = planned.filter(database__name__in=databases)
    found: list[Attention] = []
    for drill in planned.select_related("scenario", "database").order_by("planned_at"):
        status = drill.status(now)
        if status in (Status.OVERDUE, Status.MISSING):
            found.append(Attention(str(status), drill, f"DR drill {drill} planned for "
                                                       f"{drill.planned_at:%Y-%m-%d} never started"))
    first = Database.objects.filter(created_at__lte=now).order_by("created_at").first()
    if first is None:
        return found
    duty = first_sunday_of_next_month(first.created_at)
    listed_months = {(a.drill.planned_at.year, a.drill.planned_at.month) for a in found if a.drill}
    year, month = start.year, start.month
    while (slot := first_sunday(year, month)) < end:
        if start <= slot and duty <= slot and slot + OVERDUE_AFTER < now and (year, month) not in listed_months:
            month_start = slot.replace(day=1, hour=0)
            done = Drill.objects.real().filter(completed_at__gte=month_start,
                                               completed_at__lt=first_sunday_of_next_month(slot).replace(day=1, hour=0))
            if not done.exists():
                found.append(Attention("missing", None, f"No real DR drill completed in {year}-{month:02d} "
                                                        f"(due {slot:%Y-%m-%d})"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found
