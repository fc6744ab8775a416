"""A signed drill hashes an immutable snapshot of its configuration (issue 19, part 3): renaming the scenario or
moving the database later does not break "the record still matches"; editing the drill's own record still does."""

from __future__ import annotations

import json

from drills import conduct
from drills.models import Drill, DrillStep, SignOff
from drills.record import configuration_snapshot
from evidence.drill_populations import sign_off_row
from tests.drill_helpers import make_drill, the_approver, tick_all


def _signed(lead, other) -> SignOff:
    approver = the_approver()
    drill = make_drill(lead, other, approver=approver)
    tick_all(drill, lead)
    conduct.complete(drill, lead)
    return conduct.sign_off(Drill.objects.get(pk=drill.pk), approver, "reviewed")


def test_configuration_changes_after_sign_off_keep_the_record_matching(team_lead, dba):
    signoff = _signed(team_lead, dba)
    drill = signoff.drill
    snapshot = json.loads(signoff.snapshot_json)
    assert snapshot == configuration_snapshot(drill) and snapshot["scenario"]["name"] == drill.scenario.name

    drill.scenario.name = "Renamed scenario"
    drill.scenario.save()
    drill.database.host = "db2.example.com"
    drill.database.save()

    signoff = SignOff.objects.get(pk=signoff.pk)
    assert signoff.record_intact()
    assert sign_off_row(signoff)["record_still_matches"] is True


def test_editing_the_signed_record_itself_still_shows(team_lead, dba):
    signoff = _signed(team_lead, dba)
    DrillStep.objects.filter(drill=signoff.drill, position=1).update(notes="rewritten afterwards")

    assert not SignOff.objects.get(pk=signoff.pk).record_intact()
