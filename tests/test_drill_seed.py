"""The plan's scenarios, targets and checklists arrive with migrate, ready to edit in the admin."""

from __future__ import annotations

import pytest

from backups.models import Restore
from drills.models import ChecklistTemplate, Scenario
from tests.drill_helpers import ANNUAL, MONTHLY

pytestmark = pytest.mark.django_db


def test_four_scenarios_with_the_plans_targets_priorities_and_operations():
    got = {s.slug: (s.priority, s.rto_min_minutes, s.rto_minutes, s.rpo_minutes, s.restore_mode)
           for s in Scenario.objects.all()}
    assert got == {
        "data-corruption": ("low", 60, 240, 1440, Restore.Mode.NEW_DATABASE),
        "accidental-deletion": ("medium", 120, 240, 240, Restore.Mode.TABLES),
        "server-failure": ("high", 15, 30, 1440, Restore.Mode.NEW_DATABASE),
        "ransomware-security-breach": ("critical", None, 60, 1440, Restore.Mode.REPLACE),
    }
    ransomware = Scenario.objects.get(slug="ransomware-security-breach")
    assert ransomware.rto_label == "< 1 h" and ransomware.rpo_label == "< 24 h"
    assert Scenario.objects.get(slug="data-corruption").rto_label == "1 h – 4 h"
    assert len(ransomware.steps()) == 6 and "forensic" in ransomware.steps()[2]
    assert "--replace" in ransomware.restore_command("dsa")
    assert "--with-globals" in Scenario.objects.get(slug="server-failure").restore_command("dsa")


def test_monthly_and_annual_checklists_in_order_with_success_criteria():
    monthly = ChecklistTemplate.objects.get(name=MONTHLY)
    assert [i.text for i in monthly.items.all()] == [
        "Start with latest backup", "Restore to test environment", "Verify all data integrity checks pass",
        "Run application against test database", "Execute smoke tests", "Document time to recovery",
        "Identify and fix issues", "Update documentation"]
    annual = ChecklistTemplate.objects.get(name=ANNUAL)
    assert annual.items.count() == 4
    assert annual.max_recovery_minutes == 30 and annual.require_full_integrity
    assert [i.automation for i in annual.items.all()][0] == "restore"
