"""Helpers for the drill tests (fixtures live in conftest.py; these are plain functions)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from backups.models import Database
from drills import conduct
from drills.models import ChecklistTemplate, Drill, Participant, Scenario

MONTHLY = "Monthly DR test"
ANNUAL = "Annual full-scale DR exercise"


def some_database(name: str = "dsa_learning") -> Database:
    return Database.objects.get_or_create(name=name, defaults={"dbname": name})[0]


def the_approver():
    """A Team lead who takes no other part in the drills: the one who signs them off."""
    from django.contrib.auth.models import Group, User

    user, created = User.objects.get_or_create(username="alex-approver")
    if created:
        user.groups.add(Group.objects.get(name="Team lead"))
    return User.objects.get(pk=user.pk)  # fresh: permissions are cached per instance


def make_drill(lead, other=None, *, database: Database | None = None, scenario: str = "server-failure",
               checklist: str = MONTHLY, planned_at: datetime | None = None, simulated: bool = False,
               approver=None) -> Drill:
    """A drill scheduled the way the page does it, with `lead` as lead, `other` as scribe and `approver`."""
    participants = [(lead, Participant.Role.LEAD)]
    if other is not None:
        participants.append((other, Participant.Role.SCRIBE))
        if approver is not None:
            participants.append((approver, Participant.Role.APPROVER))
        return conduct.schedule(scenario=Scenario.objects.get(slug=scenario),
                                checklist=ChecklistTemplate.objects.get(name=checklist),
                                database=database or some_database(), planned_at=planned_at or timezone.now(),
                                participants=participants, user=lead, simulated=simulated)
    # A one-person drill cannot be scheduled from the page (2+ participants); the admin or the ORM can make one.
    scenario_row = Scenario.objects.get(slug=scenario)
    drill = Drill.objects.create(scenario=scenario_row, checklist=ChecklistTemplate.objects.get(name=checklist),
                                 database=database or some_database(), planned_at=planned_at or timezone.now(),
                                 runbook_version=1, rto_target_minutes=scenario_row.rto_minutes,
                                 rpo_target_minutes=scenario_row.rpo_minutes, simulated=simulated)
    Participant.objects.create(drill=drill, user=lead, role=Participant.Role.LEAD)
    return drill


def tick_all(drill: Drill, user) -> None:
    for step in drill.steps.filter(status="pending"):
        conduct.tick(step, user, notes="checked")
