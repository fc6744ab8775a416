"""Separation of duties: only the drill's named approver signs it off (never its lead, nor whoever scheduled or
completed it); every participant holds a role; the next drill is right once a drill is signed; targets read as the
plan writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from drills import conduct, health
from drills.errors import DrillError
from drills.models import ChecklistTemplate, Drill, Participant, Scenario, SignOff
from tests.drill_helpers import MONTHLY, some_database, tick_all


@pytest.fixture
def approver(make_user):
    return make_user("alex-approver", "Team lead")


def _drill(lead, scribe, approver=None, *, scheduled_by=None, planned_at=None, scenario="server-failure") -> Drill:
    people = [(lead, Participant.Role.LEAD), (scribe, Participant.Role.SCRIBE)]
    if approver is not None:
        people.append((approver, Participant.Role.APPROVER))
    return conduct.schedule(scenario=Scenario.objects.get(slug=scenario),
                            checklist=ChecklistTemplate.objects.get(name=MONTHLY), database=some_database(),
                            planned_at=planned_at or datetime.now(UTC), participants=people,
                            user=scheduled_by or lead)


def _complete(drill: Drill, user) -> Drill:
    tick_all(drill, user)
    conduct.complete(drill, user)
    return Drill.objects.get(pk=drill.pk)


def test_the_lead_who_ran_the_drill_cannot_sign_it_off_even_as_a_team_lead(client, team_lead, dba, approver):
    drill = _complete(_drill(team_lead, dba, approver), team_lead)
    client.force_login(team_lead)

    response = client.post(reverse("drills:sign_off", args=[drill.pk]), {"statement": "fine"}, follow=True)

    assert "approver" in response.content.decode() and not SignOff.objects.exists()
    with pytest.raises(DrillError, match="alex-approver"):
        conduct.sign_off(drill, team_lead, "fine")


def test_only_the_named_approver_signs(client, team_lead, dba, approver, make_user):
    other_lead = make_user("olly-other-lead", "Team lead")
    drill = _complete(_drill(team_lead, dba, approver), team_lead)
    with pytest.raises(DrillError, match="named approver"):
        conduct.sign_off(drill, other_lead, "not mine to sign")

    client.force_login(approver)
    client.post(reverse("drills:sign_off", args=[drill.pk]), {"statement": "Reviewed."})

    assert SignOff.objects.get(drill=drill).signed_by == approver


def test_a_drill_without_an_approver_cannot_be_signed(team_lead, dba, make_user):
    drill = _complete(_drill(team_lead, dba), team_lead)
    with pytest.raises(DrillError, match="names no approver"):
        conduct.sign_off(drill, make_user("olly-other-lead", "Team lead"), "ok")


def test_whoever_scheduled_the_drill_cannot_be_its_approver(team_lead, dba, approver):
    with pytest.raises(DrillError, match="scheduled"):
        _drill(team_lead, dba, approver, scheduled_by=approver)


def test_every_participant_holds_a_role(team_lead, dba, approver):
    with pytest.raises(DrillError, match="role"):
        conduct.schedule(scenario=Scenario.objects.get(slug="server-failure"),
                         checklist=ChecklistTemplate.objects.get(name=MONTHLY), database=some_database(),
                         planned_at=datetime.now(UTC), participants=[(team_lead, "lead"), (dba, "")],
                         user=team_lead)


def test_the_schedule_page_needs_an_approver(client, team_lead, dba):
    client.force_login(team_lead)
    response = client.post(reverse("drills:schedule"), {
        "scenario": Scenario.objects.get(slug="data-corruption").pk,
        "checklist": ChecklistTemplate.objects.get(name=MONTHLY).pk, "database": some_database().pk,
        "planned_at": "2026-12-06T08:00", "lead": team_lead.pk, "scribe": dba.pk,
    })
    assert response.status_code == 200 and not Drill.objects.exists()


def test_next_drill_moves_on_once_decembers_drill_is_signed(client, team_lead, dba, approver):
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=UTC), tick=False):
        drill = _complete(_drill(team_lead, dba, approver, planned_at=datetime(2026, 12, 6, 8, 0, tzinfo=UTC)),
                          team_lead)
        conduct.sign_off(drill, approver, "Reviewed.")
        now = datetime.now(UTC)
        assert health.next_drill_due(now).due_at == datetime(2027, 1, 3, 8, 0, tzinfo=UTC)
        client.force_login(dba)
        page = client.get(reverse("home"), {"part": "live"}, HTTP_HX_REQUEST="true").content.decode()
    assert "2027-01-03" in page and "2026-12-06" not in page


def test_targets_read_as_the_plan_writes_them(client, team_lead, dba, approver):
    drill = _drill(team_lead, dba, approver, scenario="data-corruption")  # RPO < 24 h, RTO 1-4 h
    client.force_login(dba)

    page = client.get(drill.get_absolute_url()).content.decode()

    assert "RPO &lt; 24 h" in page and "RTO 1 h – 4 h" in page and "1440 min" not in page
