"""The overview answers "Are we safe?" in one line, lists the problems worst first; each cell shows its real state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Kind, Severity
from backups.models import Artifact, BackupRun, Database, Tier, Verification


@pytest.fixture
def local(db) -> Tier:
    return Tier.objects.get(name="local")


def good_copy(database: Database, tier: Tier, *, hours_ago: float, verdict: str | None = Verification.Status.PASSED
              ) -> Artifact:
    at = timezone.now() - timedelta(hours=hours_ago)
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, created_at=at, started_at=at,
                                   finished_at=at, size_bytes=10_000)
    copy = Artifact.objects.create(run=run, tier=tier, location=f"/x/{run.pk}", sha256="0" * 64, size_bytes=10_000)
    if verdict:
        Verification.objects.create(artifact=copy, status=verdict, created_at=at + timedelta(minutes=5),
                                    finished_at=at + timedelta(minutes=6))
    return copy


def failed_run(database: Database, *, hours_ago: float) -> BackupRun:
    at = timezone.now() - timedelta(hours=hours_ago)
    return BackupRun.objects.create(database=database, status=BackupRun.Status.FAILED, created_at=at, started_at=at,
                                    finished_at=at, error="pg_dump: connection refused")


def cell_of(page: str, database: str) -> str:
    row = re.search(rf'<tr data-database="{database}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {database}"
    return row.group(1)


def test_all_good_is_said_in_one_line(client, dba, local):
    good_copy(Database.objects.create(name="orders", dbname="orders"), local, hours_ago=1)
    client.force_login(dba)

    page = client.get(reverse("home")).content.decode()

    assert re.search(r'<p class="verdict verdict-ok"[^>]*>All good: ', page)


def test_a_database_whose_every_backup_fails_says_failing_since_with_attempts(client, dba, local):
    failing = Database.objects.create(name="orders", dbname="orders")
    for hours in (30, 20, 10):
        failed_run(failing, hours_ago=hours)
    Database.objects.create(name="brand_new", dbname="brand_new")
    client.force_login(dba)

    page = client.get(reverse("home")).content.decode()

    cell = cell_of(page, "orders")
    assert 'data-state="failing"' in cell and "Failing since" in cell and "3 attempts" in cell
    new = cell_of(page, "brand_new")
    assert 'data-state="failing"' not in new and "No copy yet" in new
    verdict = re.search(r'<p class="verdict verdict-critical"[^>]*>(.*?)</p>', page, re.S)
    assert verdict and "problem" in verdict.group(1) and "orders" in verdict.group(1)


def test_a_failed_verification_is_red_with_when(client, dba, local):
    database = Database.objects.create(name="orders", dbname="orders")
    good_copy(database, local, hours_ago=2, verdict=Verification.Status.FAILED)
    client.force_login(dba)

    page = client.get(reverse("home")).content.decode()

    cell = cell_of(page, "orders")
    assert 'data-state="verification-failed"' in cell and "failed verification" in cell and "ago" in cell
    assert "verdict-critical" in page


def test_problems_come_worst_first_then_open_alerts_by_severity(client, dba, local):
    database = Database.objects.create(name="orders", dbname="orders", rpo_hours=24)
    good_copy(database, local, hours_ago=22)  # due soon: a warning
    failing = Database.objects.create(name="billing", dbname="billing")
    failed_run(failing, hours_ago=3)
    Alert.objects.create(key="drill:x", kind=Kind.DRILL_OVERDUE, severity=Severity.WARNING, title="Drill overdue",
                         message="the monthly drill is late")
    client.force_login(dba)

    page = client.get(reverse("home")).content.decode()

    problems = re.findall(r'<li class="problem severity-(\w+)"', page)
    assert problems and problems[0] == "critical" and "warning" in problems
    assert problems == sorted(problems, key=["critical", "warning", "info"].index)
    assert page.index('class="verdict') < page.index('<table class="matrix"')  # the answer first, above the table
    assert "Drill overdue" in page


def test_an_archived_database_is_not_a_problem(client, dba, local):
    Database.objects.create(name="old_crm", dbname="old_crm", enabled=False)
    client.force_login(dba)

    page = client.get(reverse("home")).content.decode()

    assert 'data-state="archived"' in cell_of(page, "old_crm")
    assert "verdict-ok" in page


def test_last_failures_include_failed_verifications(client, dba, local):
    database = Database.objects.create(name="orders", dbname="orders")
    good_copy(database, local, hours_ago=2, verdict=Verification.Status.FAILED)

    client.force_login(dba)
    page = client.get(reverse("home"), {"part": "live"}, HTTP_HX_REQUEST="true").content.decode()

    failures = page.split("Last failures", 1)[1]
    assert "Verification" in failures and "orders" in failures
