"""The read-only pages every role sees: drill list, contacts, scenario runbooks with the escalation list, history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from drills.models import Contact, Drill
from tests.drill_helpers import make_drill
from tests.helpers import chart_svgs

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts():
    Contact.objects.create(role="On-Call", name="Olu Oncall", phone="+44 20 7946 0000", escalation_order=1,
                           on_call=True)
    Contact.objects.create(role="Database Admin", name="Dee Admin", email="dee@example.com", escalation_order=2)
    Contact.objects.create(role="DevOps Lead", name="Dev Lead", email="lead@example.com", escalation_order=3)


def test_contacts_page_lists_everyone_in_escalation_order(client, auditor, contacts):
    client.force_login(auditor)
    page = client.get(reverse("drills:contacts")).content.decode()
    assert page.index("Olu Oncall") < page.index("Dee Admin") < page.index("Dev Lead")
    assert "tel:+44 20 7946 0000" in page and "mailto:dee@example.com" in page


def test_runbook_page_shows_steps_targets_operation_and_escalation(client, dba, contacts):
    client.force_login(dba)
    page = client.get(reverse("drills:scenario", args=["ransomware-security-breach"])).content.decode()
    assert "Isolate affected systems immediately" in page and "Notify affected users" in page
    assert "&lt; 1 h" in page and "--replace" in page and "Critical" in page
    assert page.index("Olu Oncall") < page.index("Dev Lead")
    listing = client.get(reverse("drills:scenarios")).content.decode()
    assert listing.index("Ransomware") < listing.index("Server failure") < listing.index("Data corruption")


def test_stranger_without_a_role_sees_no_drill_pages(client, stranger):
    client.force_login(stranger)
    for name in ("drills:list", "drills:contacts", "drills:history", "drills:scenarios"):
        assert client.get(reverse(name)).status_code == 403


def test_history_charts_real_recovery_times_against_the_rto_line(client, team_lead, dba):
    for day, minutes in ((1, 12.5), (2, 41.0)):
        drill = make_drill(team_lead, dba, scenario="server-failure")
        Drill.objects.filter(pk=drill.pk).update(recovery_seconds=minutes * 60,
                                                 validated_at=datetime(2026, 11, day, 9, tzinfo=UTC))
    simulated = make_drill(team_lead, dba, scenario="data-corruption", simulated=True)
    Drill.objects.filter(pk=simulated.pk).update(recovery_seconds=60, validated_at=datetime(2026, 11, 3, tzinfo=UTC))
    client.force_login(team_lead)
    page = client.get(reverse("drills:history")).content.decode()
    svg = chart_svgs(page)[0]
    assert 'data-scenario="server-failure"' in page
    assert "RTO 15 min – 30 min" in svg  # the target line's legend
    assert "12.5" in svg and "41" in svg
    assert 'data-scenario="data-corruption"' not in page  # simulated drills never count


def test_drill_list_shows_status_and_attention(client, team_lead, dba):
    make_drill(team_lead, dba, planned_at=datetime(2020, 1, 5, 8, tzinfo=UTC))
    client.force_login(team_lead)
    page = client.get(reverse("drills:list")).content.decode()
    assert 'data-status="missing"' in page and 'data-attention="missing"' in page


def test_admin_edits_contacts_and_a_changed_runbook_gets_a_new_version(client, admin_user):
    from drills.models import Scenario

    client.force_login(admin_user)
    response = client.post(reverse("admin:drills_contact_add"), {
        "role": "Database Admin", "name": "Dee Admin", "email": "dee@example.com", "phone": "+1 555 0100",
        "escalation_order": 1, "on_call": "on"})
    assert response.status_code == 302 and Contact.objects.get().on_call
    scenario = Scenario.objects.get(slug="server-failure")
    data = {f: getattr(scenario, f) for f in ("name", "slug", "summary", "priority", "rto_minutes", "rpo_minutes",
                                              "operation")}
    data.update(rto_min_minutes=15, runbook=scenario.runbook + "\nTell the contacts it is over")
    response = client.post(reverse("admin:drills_scenario_change", args=[scenario.pk]), data)
    assert response.status_code == 302
    scenario.refresh_from_db()
    assert scenario.runbook_version == 2 and scenario.steps()[-1] == "Tell the contacts it is over"
