"""Scheduling (first Sunday of next month, 2+ people), derived states, and what health reports about drills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from audit.models import AuditEvent
from drills import conduct, health
from drills.calendar import first_sunday_of_next_month
from drills.errors import DrillError
from drills.models import Drill
from tests.drill_helpers import MONTHLY, make_drill, some_database, the_approver, tick_all

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)  # the first Sunday of November 2026


@pytest.mark.parametrize(("moment", "slot"), [
    (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), datetime(2026, 12, 6, 8, 0, tzinfo=UTC)),
    (datetime(2026, 12, 15, 0, 0, tzinfo=UTC), datetime(2027, 1, 3, 8, 0, tzinfo=UTC)),
    (datetime(2027, 1, 31, 23, 59, tzinfo=UTC), datetime(2027, 2, 7, 8, 0, tzinfo=UTC)),
    (datetime(2026, 7, 2, 0, 0, tzinfo=UTC), datetime(2026, 8, 2, 8, 0, tzinfo=UTC)),  # 1 Aug is a Saturday
])
def test_default_slot_is_the_first_sunday_of_next_month_at_eight_utc(moment, slot):
    assert first_sunday_of_next_month(moment) == slot
    assert slot.weekday() == 6


def test_schedule_page_defaults_to_the_next_slot_and_records_the_drill(client, team_lead, dba):
    client.force_login(team_lead)
    with time_machine.travel(datetime(2026, 11, 24, 21, 0, tzinfo=UTC), tick=False):
        page = client.get(reverse("drills:schedule")).content.decode()
    assert 'value="2026-12-06T08:00"' in page
    client.force_login(team_lead)  # a new session: the one from six days ago has idled out
    database = some_database()
    from drills.models import ChecklistTemplate, Scenario
    response = client.post(reverse("drills:schedule"), {
        "scenario": Scenario.objects.get(slug="data-corruption").pk,
        "checklist": ChecklistTemplate.objects.get(name=MONTHLY).pk, "database": database.pk,
        "planned_at": "2026-12-06T08:00", "lead": team_lead.pk, "scribe": dba.pk, "approver": the_approver().pk,
    })
    drill = Drill.objects.get()
    assert response.status_code == 302 and response["Location"] == drill.get_absolute_url()
    assert drill.planned_at == datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    assert (drill.rto_target_minutes, drill.rpo_target_minutes, drill.runbook_version) == (240, 1440, 1)
    assert [s.text for s in drill.steps.all()][0] == "Start with latest backup" and drill.steps.count() == 8
    assert {(p.user.username, p.role) for p in drill.participants.all()} == {("terry-lead", "lead"),
                                                                         ("dana-dba", "scribe"),
                                                                         ("alex-approver", "approver")}
    assert AuditEvent.objects.filter(action="drill.scheduled", target_id=str(drill.pk)).exists()


def test_a_drill_needs_two_different_people(client, team_lead):
    with pytest.raises(DrillError, match="at least 2"):
        conduct.schedule(scenario=Drill.scenario.field.related_model.objects.first(),
                         checklist=Drill.checklist.field.related_model.objects.first(), database=some_database(),
                         planned_at=T0, participants=[(team_lead, "lead")], user=team_lead)
    client.force_login(team_lead)
    response = client.post(reverse("drills:schedule"), {"lead": team_lead.pk, "scribe": team_lead.pk})
    assert "must be different people" in response.content.decode() and not Drill.objects.exists()


def test_auditor_and_stranger_cannot_schedule(client, auditor, stranger):
    for user in (auditor, stranger):
        client.force_login(user)
        assert client.get(reverse("drills:schedule")).status_code == 403


def test_states_planned_overdue_missing_in_progress_completed(team_lead, dba):
    drill = make_drill(team_lead, dba, planned_at=T0)
    assert drill.status(T0 - timedelta(days=3)) == "planned"
    assert drill.status(T0 + timedelta(hours=5)) == "planned"  # still the drill's day
    assert drill.status(T0 + timedelta(days=2)) == "overdue"
    assert drill.status(T0 + timedelta(days=8)) == "missing"
    conduct.start(drill, team_lead)
    assert drill.status(T0 + timedelta(days=8)) == "in_progress"
    conduct.complete(drill, team_lead)
    assert drill.status(T0 + timedelta(days=8)) == "completed"


def _done_drill(lead, other, when: datetime, simulated: bool = False) -> Drill:
    with time_machine.travel(when, tick=False):
        drill = make_drill(lead, other, planned_at=when, simulated=simulated, approver=the_approver())
        tick_all(drill, lead)
        conduct.complete(drill, lead)
    return Drill.objects.get(pk=drill.pk)


def test_overdue_when_no_drill_ran_in_a_month(team_lead, dba):
    _done_drill(team_lead, dba, T0)
    with time_machine.travel(datetime(2026, 11, 20, tzinfo=UTC), tick=False):
        assert [a.kind for a in health.attention(datetime.now(UTC)) if a.kind == "overdue"] == []
    with time_machine.travel(datetime(2026, 12, 9, tzinfo=UTC), tick=False):  # December's slot was the 6th
        now = datetime.now(UTC)
        overdue = [a for a in health.attention(now) if a.kind == "overdue"]
        assert len(overdue) == 1 and overdue[0].drill is None and "since 2026-11-01" in overdue[0].message
        due = health.next_drill_due(now)
        assert due.drill is None and due.overdue and due.due_at == datetime(2026, 12, 6, 8, tzinfo=UTC)


def test_simulated_drills_never_count_as_real(team_lead, dba):
    _done_drill(team_lead, dba, T0)
    _done_drill(team_lead, dba, datetime(2026, 12, 6, 8, tzinfo=UTC), simulated=True)
    kinds = [a.kind for a in health.attention(datetime(2026, 12, 9, tzinfo=UTC))]
    assert "overdue" in kinds


def test_planned_drill_that_did_not_start_is_overdue_then_missing(team_lead, dba):
    _done_drill(team_lead, dba, T0)
    late = make_drill(team_lead, dba, planned_at=datetime(2026, 12, 6, 8, tzinfo=UTC))
    found = health.attention(datetime(2026, 12, 8, tzinfo=UTC))
    assert [(a.kind, a.drill) for a in found if a.kind != "unsigned"] == [("overdue", late)]
    assert health.next_drill_due(datetime(2026, 12, 8, tzinfo=UTC)).drill == late
    found = health.attention(datetime(2026, 12, 20, tzinfo=UTC))
    assert ("missing", late) in [(a.kind, a.drill) for a in found]


def test_unsigned_completed_drill_is_flagged_after_a_week(team_lead, dba):
    drill = _done_drill(team_lead, dba, T0)
    assert "unsigned" not in [a.kind for a in health.attention(T0 + timedelta(days=3))]
    flagged = [a for a in health.attention(T0 + timedelta(days=8)) if a.kind == "unsigned"]
    assert [a.drill for a in flagged] == [drill]
    conduct.sign_off(drill, the_approver(), "ok")
    assert "unsigned" not in [a.kind for a in health.attention(T0 + timedelta(days=8))]


def test_next_drill_due_is_the_planned_one(team_lead, dba):
    planned = make_drill(team_lead, dba, planned_at=datetime(2026, 12, 6, 8, tzinfo=UTC))
    due = health.next_drill_due(datetime(2026, 11, 24, tzinfo=UTC))
    assert due.drill == planned and not due.overdue and due.due_at == planned.planned_at


def test_ticking_a_step_records_who_when_and_notes(client, team_lead, dba):
    drill = make_drill(team_lead, dba)
    step = drill.steps.get(position=4)
    client.force_login(dba)
    response = client.post(reverse("drills:tick", args=[drill.pk, step.pk]),
                           {"status": "done", "notes": "app served from the restored copy"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="checklist"' in response.content.decode()
    step.refresh_from_db()
    assert (step.status, step.ticked_by, step.notes) == ("done", dba, "app served from the restored copy")
    assert step.finished_at is not None
    assert Drill.objects.get(pk=drill.pk).started_at is not None  # the first tick declares the drill
    assert AuditEvent.objects.filter(action="drill.step_ticked", actor="dana-dba").count() == 1


def test_before_any_drill_the_duty_starts_the_month_after_the_first_database(team_lead):
    with time_machine.travel(datetime(2026, 11, 10, tzinfo=UTC), tick=False):
        some_database()
        assert [a for a in health.attention(datetime.now(UTC)) if a.kind == "overdue"] == []  # not on day one
        assert health.next_drill_due(datetime.now(UTC)).due_at == datetime(2026, 12, 6, 8, tzinfo=UTC)
    overdue = [a for a in health.attention(datetime(2026, 12, 8, tzinfo=UTC)) if a.kind == "overdue"]
    assert len(overdue) == 1 and "completed yet" in overdue[0].message
