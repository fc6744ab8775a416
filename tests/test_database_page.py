"""A database's page: its tiers, the charts of size, duration and restore time, and its newest runs."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Tier, Verification
from backups.web.trends import Trends
from tests.helpers import chart_svgs


def _history(database: Database, tier: Tier, count: int) -> list[BackupRun]:
    start = timezone.now() - timedelta(days=count)
    runs = []
    for i in range(count):
        at = start + timedelta(days=i)
        run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, created_at=at,
                                       started_at=at, finished_at=at + timedelta(seconds=30 + i),
                                       size_bytes=(i + 1) * 1024 * 1024)
        artifact = Artifact.objects.create(run=run, tier=tier, location=f"/x/{run.pk}", size_bytes=run.size_bytes,
                                           sha256="0" * 64, created_at=at)
        Verification.objects.create(artifact=artifact, status=Verification.Status.PASSED, restore_seconds=2.0 + i,
                                    created_at=at + timedelta(minutes=5))
        runs.append(run)
    BackupRun.objects.create(database=database, status=BackupRun.Status.FAILED, created_at=timezone.now(),
                             started_at=timezone.now(), finished_at=timezone.now(), error="pg_dump exited 1")
    return runs


def test_trends_hold_one_point_per_good_run_and_passed_verification(db):
    database = Database.objects.create(name="learning", dbname="learning")
    runs = _history(database, Tier.objects.get(name="local"), 5)

    trends = Trends.of(database)

    assert sorted(trends.size) == [(r.started_at, float(r.size_bytes)) for r in runs]
    assert sorted(trends.duration) == [(r.started_at, 30.0 + i) for i, r in enumerate(runs)]
    assert [s for _, s in sorted(trends.restore)] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert len(Trends.of(database, limit=3).size) == 3


def test_database_page_shows_tiers_charts_and_newest_runs(client, dba, django_assert_max_num_queries):
    database = Database.objects.create(name="learning", dbname="learning")
    runs = _history(database, Tier.objects.get(name="local"), 6)
    client.force_login(dba)
    url = reverse("backups:database_detail", args=["learning"])

    with django_assert_max_num_queries(20):
        page = client.get(url).content.decode()

    charts = chart_svgs(page)
    assert len(charts) == 3
    assert "Stored size of learning" in charts[0] and "Verification restore time of learning" in charts[2]
    assert "kozea.github.io" not in page + "".join(charts)  # pygal's tooltip script from its CDN is never linked
    assert f'href="{runs[-1].get_absolute_url()}"' in page
    assert f'data-status="{database.freshness(Tier.objects.get(name="local")).status}"' in page
    assert '<tr class="status-failed">' in page  # the newest run, a failure, heads the list


def test_database_page_is_404_for_an_unknown_name(client, dba):
    client.force_login(dba)
    assert client.get(reverse("backups:database_detail", args=["nope"])).status_code == 404
