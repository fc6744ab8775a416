"""Sign-off: only the named approver (a Team lead who did not run the drill); it stores the record's SHA-256 and
locks the drill. More on separation of duties in test_drill_separation_of_duties.py."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from drills import conduct
from drills.errors import DrillError, DrillLocked
from drills.models import Drill, DrillNote, FollowUp, Participant, SignOff
from drills.record import record_json, record_sha256
from tests.drill_helpers import make_drill, the_approver, tick_all


def _completed(lead, other=None) -> Drill:
    drill = make_drill(lead, other, approver=the_approver() if other is not None else None)
    tick_all(drill, lead)
    conduct.complete(drill, lead)
    return Drill.objects.get(pk=drill.pk)


def test_the_approver_signs_and_the_hash_is_of_the_record(client, team_lead, dba):
    drill = _completed(team_lead, dba)
    approver = the_approver()
    client.force_login(approver)
    response = client.post(reverse("drills:sign_off", args=[drill.pk]), {"statement": "Drill reviewed; RTO met."})
    assert response.status_code == 302
    signoff = SignOff.objects.get(drill=drill)
    assert signoff.signed_by == approver
    assert signoff.record_sha256 == hashlib.sha256(signoff.record_json.encode()).hexdigest()
    assert signoff.record_sha256 == record_sha256(Drill.objects.get(pk=drill.pk))
    people = [["alex-approver", "approver"], ["dana-dba", "scribe"], ["terry-lead", "lead"]]
    assert json.loads(signoff.record_json)["participants"] == people
    assert signoff.record_intact()
    event = AuditEvent.objects.get(action="drill.signed_off", target_id=str(drill.pk))
    assert event.details["record_sha256"] == signoff.record_sha256
    assert Drill.objects.get(pk=drill.pk).status() == "signed_off"


def test_sign_off_by_a_non_team_lead_is_refused(client, team_lead, dba):
    drill = _completed(team_lead, dba)
    client.force_login(dba)
    assert client.post(reverse("drills:sign_off", args=[drill.pk]), {"statement": "fine"}).status_code == 403
    with pytest.raises(DrillError, match="Team lead"):
        conduct.sign_off(drill, dba, "fine")
    assert not SignOff.objects.exists()


def test_sign_off_by_the_sole_participant_is_refused(client, team_lead):
    drill = _completed(team_lead)
    client.force_login(team_lead)
    response = client.post(reverse("drills:sign_off", args=[drill.pk]), {"statement": "I approve myself"},
                           follow=True)
    assert "names no approver" in response.content.decode()
    assert not SignOff.objects.exists()
    with pytest.raises(DrillError, match="names no approver"):
        conduct.sign_off(drill, team_lead, "I approve myself")


def test_a_drill_is_signed_only_once_it_is_completed(team_lead, dba):
    drill = make_drill(team_lead, dba)
    with pytest.raises(DrillError, match="complete the drill"):
        conduct.sign_off(drill, team_lead, "too early")


@pytest.fixture
def signed(team_lead, dba) -> Drill:
    drill = _completed(team_lead, dba)
    conduct.add_follow_up(drill, team_lead, finding="smoke tests are manual", action="script them", owner=dba,
                          due_date="2027-01-31")
    conduct.sign_off(Drill.objects.get(pk=drill.pk), the_approver(), "Reviewed.")
    return Drill.objects.get(pk=drill.pk)


def test_a_signed_drill_cannot_be_edited_through_any_view(client, signed, team_lead, dba):
    before = signed.signoff.record_sha256
    step, follow_up = signed.steps.first(), signed.follow_ups.first()
    client.force_login(team_lead)
    posts = {
        "start": {}, "restore": {}, "complete": {}, "drop_restored": {}, "deviations": {"text": "rewritten"},
        "add_follow_up": {"finding": "f", "action": "a", "owner": dba.pk, "due_date": "2027-02-01"},
        "sign_off": {"statement": "again"},
    }
    for name, data in posts.items():
        response = client.post(reverse(f"drills:{name}", args=[signed.pk]), data, follow=True)
        assert "Refused" in response.content.decode(), name
    response = client.post(reverse("drills:tick", args=[signed.pk, step.pk]), {"status": "failed", "notes": "x"},
                           follow=True)
    assert "Refused" in response.content.decode()
    # Corrections go in as notes; a follow-up's progress may move on. Neither is part of the signed record.
    client.post(reverse("drills:add_note", args=[signed.pk]), {"text": "step 5 was done by Pat, not Dana"})
    client.post(reverse("drills:follow_up_status", args=[signed.pk, follow_up.pk]), {"status": "done"})
    drill = Drill.objects.get(pk=signed.pk)
    assert DrillNote.objects.get(drill=drill).after_sign_off
    assert FollowUp.objects.get(pk=follow_up.pk).status == "done"
    assert record_sha256(drill) == before and drill.signoff.record_intact()
    assert drill.deviations == "" and drill.follow_ups.count() == 1 and SignOff.objects.count() == 1
    page = client.get(drill.get_absolute_url()).content.decode()
    assert "the record still matches" in page and "correction after sign-off" in page


def test_a_signed_drill_cannot_be_edited_in_the_admin_or_the_models(client, signed, make_user, dba):
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    url = reverse("admin:drills_drill_change", args=[signed.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # view-only
    response = client.post(url, {"title": "renamed", "planned_at_0": "2020-01-01", "planned_at_1": "00:00"})
    assert response.status_code == 403
    assert client.post(reverse("admin:drills_drill_delete", args=[signed.pk]), {"post": "yes"}).status_code == 403
    assert client.post(reverse("admin:drills_signoff_delete", args=[signed.signoff.pk]),
                       {"post": "yes"}).status_code == 403

    drill = Drill.objects.get(pk=signed.pk)
    drill.deviations = "rewritten"
    with pytest.raises(DrillLocked):
        drill.save()
    step = drill.steps.first()
    step.notes = "rewritten"
    with pytest.raises(DrillLocked):
        step.save()
    with pytest.raises(DrillLocked):
        Participant.objects.filter(drill=drill).first().delete()
    with pytest.raises(DrillLocked):
        Participant.objects.create(drill=drill, user=root, role="attendee")
    follow_up = drill.follow_ups.first()
    follow_up.action = "something else"
    with pytest.raises(DrillLocked):
        follow_up.save()
    with pytest.raises(DrillLocked):
        drill.signoff.delete()
    assert record_sha256(Drill.objects.get(pk=drill.pk)) == drill.signoff.record_sha256


def test_an_edit_that_bypasses_the_models_shows_against_the_signed_hash(signed):
    Drill.objects.filter(pk=signed.pk).update(deviations="quietly rewritten")  # bulk update skips save()
    drill = Drill.objects.get(pk=signed.pk)
    assert not drill.signoff.record_intact()
    assert json.loads(record_json(drill))["deviations"] == "quietly rewritten"
