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
from drills.calendar import first_sunday_of_next_month
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
        return first_sunday_of_next_month(last.completed_at)
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
