"""An auditor draws N samples from a period's population of backups; the seed is recorded, and the same seed
draws the same samples. Each sample's page shows the run's full record and links to the run page."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from backups.models import BackupRun
from evidence import sampling
from evidence.models import EvidenceSample
from evidence.period import Scope
from tests.evidence_data import daily_history


@pytest.fixture
def year(db, local_tier):
    daily_history("orders", date(2026, 1, 1), 120, fail_every=7)
    daily_history("billing", date(2026, 1, 1), 120)


def test_same_seed_same_samples_other_seed_other_samples(year):
    scope = Scope.build(date(2026, 2, 1), date(2026, 3, 31), ["orders"])
    first = sampling.take_sample(scope, 10, seed="audit-2026")
    again = sampling.take_sample(scope, 10, seed="audit-2026")
    other = sampling.take_sample(scope, 10, seed="something-else")
    assert first.picked_run_ids == again.picked_run_ids != other.picked_run_ids
    assert len(set(first.picked_run_ids)) == 10 and first.population_count == 59
    runs = BackupRun.objects.filter(pk__in=first.picked_run_ids)
    assert {r.database.name for r in runs} == {"orders"}
    assert all(date(2026, 2, 1) <= r.created_at.date() <= date(2026, 3, 31) for r in runs)


def test_without_a_seed_one_is_chosen_and_recorded(year):
    scope = Scope.build(date(2026, 1, 1), date(2026, 1, 31))
    sample = sampling.take_sample(scope, 5)
    assert sample.seed and sampling.draw(list(sampling.population(scope).values_list("id", flat=True)), 5,
                                         sample.seed) == sample.picked_run_ids
    event = AuditEvent.objects.filter(action="evidence.sampled").last()
    assert event.details["seed"] == sample.seed and event.details["picked"] == sample.picked_run_ids


def test_asking_for_more_than_the_population_takes_all_of_it(year):
    scope = Scope.build(date(2026, 1, 1), date(2026, 1, 3), ["billing"])
    assert sorted(sampling.take_sample(scope, 50, seed="x").picked_run_ids) == list(
        sampling.population(scope).values_list("id", flat=True))


def test_the_auditor_picks_samples_on_the_population_page(client, auditor, year):
    client.force_login(auditor)
    page = client.get(reverse("evidence:population"), {"since": "2026-02-01", "until": "2026-02-28",
                                                       "databases": ["orders"]})
    assert page.status_code == 200 and "28 backup runs" in page.content.decode()

    response = client.post(reverse("evidence:sample_create"), {"since": "2026-02-01", "until": "2026-02-28",
                                                                "databases": ["orders"], "size": 4, "seed": "s1"})
    sample = EvidenceSample.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("evidence:sample_detail",
                                                                            args=[sample.pk])
    detail = client.get(response["Location"]).content.decode()
    assert "s1" in detail and "yes: drawing again" in detail
    for run_id in sample.picked_run_ids:
        assert reverse("backups:run_detail", args=[run_id]) in detail
    run = BackupRun.objects.get(pk=sample.picked_run_ids[0])
    assert (run.sha256 or run.error) in detail
