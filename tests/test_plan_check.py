"""The plan check: each database's schedule against each scenario's RPO, on the database and scenario pages."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse

from backups.models import Database
from drills import plan_check
from drills.models import Scenario


def verdict_row(page: str, attribute: str, value: str) -> str:
    row = re.search(rf'<tr class="check-\w+" data-meets="(yes|no)"[^>]*{attribute}="{value}"', page)
    assert row, f"no plan check row for {value}"
    return row.group(1)


def test_nightly_backups_cannot_meet_a_four_hour_rpo(client, dba):
    Database.objects.create(name="orders", dbname="orders", schedule="0 2 * * *")
    client.force_login(dba)

    page = client.get(reverse("backups:database_detail", args=["orders"])).content.decode()

    assert verdict_row(page, "data-scenario", "accidental-deletion") == "no"
    assert verdict_row(page, "data-scenario", "data-corruption") == "yes"
    assert "<code>0 */4 * * *</code> would" in page


def test_the_scenario_page_lists_every_database_against_its_rpo(client, dba):
    Database.objects.create(name="orders", dbname="orders", schedule="0 2 * * *")
    Database.objects.create(name="billing", dbname="billing", schedule="0 */2 * * *")
    client.force_login(dba)

    page = client.get(reverse("drills:scenario", args=["accidental-deletion"])).content.decode()

    assert verdict_row(page, "data-database", "orders") == "no"
    assert verdict_row(page, "data-database", "billing") == "yes"


def test_the_largest_gap_comes_from_the_cron():
    assert plan_check.largest_gap("0 2 * * *") == timedelta(hours=24)
    assert plan_check.largest_gap("0 2 * * 1-5") == timedelta(days=3)  # Friday night to Monday night
    assert plan_check.largest_gap("30 */6 * * *") == timedelta(hours=6)


def test_the_suggested_schedule_meets_the_rpo(db):
    for scenario in Scenario.objects.all():
        suggestion = plan_check.schedule_meeting(scenario.rpo_minutes)
        assert plan_check.largest_gap(suggestion) <= timedelta(minutes=scenario.rpo_minutes)
    assert plan_check.schedule_meeting(45) == "*/30 * * * *"
