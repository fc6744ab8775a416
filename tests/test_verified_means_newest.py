"""A copy is verified while its newest decided verification (passed or failed) passed: one that passed once and
then failed is not verified, anywhere. A verification that could not run (status `error`) counts neither way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Freshness, Verification
from backups.retention.applier import apply_retention
from backups.web import overview

ERROR = "error"  # Verification.Status.ERROR on the jobs branch: a verification that could not run


def _copy(database: Database, tier, started, *verdicts: str) -> Artifact:
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, started_at=started,
                                   created_at=started, finished_at=started + timedelta(minutes=1))
    artifact = Artifact.objects.create(run=run, tier=tier, location=f"/nowhere/{run.pk}", size_bytes=10,
                                       created_at=started)
    for i, status in enumerate(verdicts):
        at = started + timedelta(hours=i + 1)
        Verification.objects.create(artifact=artifact, status=status, created_at=at, started_at=at,
                                    finished_at=at + timedelta(minutes=5))
    return artifact


@pytest.fixture
def database(db):
    return Database.objects.create(name="rotting", dbname="rotting", rpo_hours=24)


P, F = Verification.Status.PASSED, Verification.Status.FAILED


@pytest.mark.parametrize(("verdicts", "verified"), [
    ((P,), True), ((P, F), False), ((F, P), True), ((P, ERROR), True), ((F, ERROR), False), ((ERROR,), False),
    ((P, Verification.Status.RUNNING), True), ((), False),
])
def test_the_newest_decided_verification_decides(database, local_tier, verdicts, verified):
    artifact = _copy(database, local_tier, timezone.now() - timedelta(hours=3), *verdicts)
    assert Artifact.objects.verified().filter(pk=artifact.pk).exists() is verified


def test_freshness_and_the_overview_say_failed_verification(database, local_tier, client, dba):
    local_tier.require_verified = True
    local_tier.save()
    now = timezone.now()
    _copy(database, local_tier, now - timedelta(hours=10), P)
    rotten = _copy(database, local_tier, now - timedelta(hours=2), P, F)

    report = database.freshness(local_tier, now)
    assert report.newest == rotten and report.verified is False and report.failed_verification is True
    assert report.status == Freshness.OK and report.age > timedelta(hours=9)  # the older verified copy counts
    [row] = overview.freshness_matrix([local_tier], now)
    assert (row.cells[0].verified, row.cells[0].failed_verification) == (False, True)
    client.force_login(dba)
    page = client.get("/").text
    assert "failed verification" in page and "· verified" not in page


def test_retention_keeps_the_older_good_copies_when_the_newest_verified_copy_rots(database, local_tier):
    """The incident: every copy verified once; the newest later failed. Retention must not treat it as the newest
    verified copy (keeping only it) and delete every older good one."""
    local_tier.retention.keep_days = 1
    local_tier.retention.keep_last = 1
    local_tier.retention.monthly_months = 0
    local_tier.retention.save()
    now = timezone.now()
    older = [_copy(database, local_tier, now - timedelta(days=d), P) for d in (10, 9, 8)]
    _copy(database, local_tier, now - timedelta(days=3), P, F)

    report = apply_retention(local_tier, now=now, dry_run=True)

    assert report.plan.deletions == []
    kept = {d.copy_id: d.rule for d in report.plan.decisions}
    assert kept[older[-1].pk] == "newest_verified"


def test_metrics_last_verified_ignores_a_copy_whose_newest_verification_failed(database, local_tier, client):
    now = timezone.now()
    good = _copy(database, local_tier, now - timedelta(hours=30), P)
    _copy(database, local_tier, now - timedelta(hours=2), P, F)
    good_pass = good.verifications.get().finished_at

    from alerts.metrics import LifeboatCollector

    [family] = [m for m in LifeboatCollector().collect() if m.name == "lifeboat_backup_last_verified_timestamp_seconds"]
    [sample] = [s for s in family.samples if s.labels["database"] == "rotting"]
    assert sample.value == pytest.approx(good_pass.timestamp())


def test_history_and_evidence_say_which_copies_are_verified_now(database, local_tier, client, dba):
    from evidence.period import Scope
    from evidence.populations import REGISTRY

    now = timezone.now()
    good = _copy(database, local_tier, now - timedelta(hours=30), P)
    rotten = _copy(database, local_tier, now - timedelta(hours=2), P, F)

    rows = {r["id"]: r for r in REGISTRY["artifacts"].rows(Scope(now.date() - timedelta(days=3), now.date()))}
    assert (rows[good.pk]["verdict"], rows[rotten.pk]["verdict"]) == ("passed", "failed")

    client.force_login(dba)
    verified_runs = client.get("/backups/", {"verified": "yes"}).context["page"].object_list
    assert [r.pk for r in verified_runs] == [good.run_id]
