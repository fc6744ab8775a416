"""The overview matrix and the history page: right answers, constant queries, filters and sorting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Tier, Verification
from backups.web import overview


def make_runs(database: Database, tiers: list[Tier], count: int, *, start, every=timedelta(hours=6),
              verify_every: int = 2, fail_every: int = 5) -> None:
    for i in range(count):
        at = start + i * every
        failed = fail_every and i % fail_every == fail_every - 1
        run = BackupRun.objects.create(
            database=database, created_at=at, started_at=at, finished_at=at + timedelta(minutes=3),
            status=BackupRun.Status.FAILED if failed else BackupRun.Status.SUCCEEDED, size_bytes=1000 + i,
        )
        if failed:
            continue
        for tier in tiers:
            artifact = Artifact.objects.create(run=run, tier=tier, location=f"/x/{run.pk}-{tier.pk}",
                                               size_bytes=1000 + i, sha256="0" * 64, created_at=at)
            if verify_every and i % verify_every == 0:
                Verification.objects.create(artifact=artifact, status=Verification.Status.PASSED)


@pytest.fixture
def tiers(db):
    local = Tier.objects.get(name="local")
    other, _ = Tier.objects.get_or_create(name="second", defaults={"kind": Tier.Kind.LOCAL, "path": "/tmp/second"})
    return [local, other]


def test_matrix_agrees_with_each_databases_own_freshness(tiers):
    now = timezone.now()
    learning = Database.objects.create(name="learning", dbname="learning", rpo_hours=24)
    reports = Database.objects.create(name="reports", dbname="reports", rpo_hours=4)
    Database.objects.create(name="fresh", dbname="fresh")
    make_runs(learning, tiers, 9, start=now - timedelta(hours=60))
    make_runs(reports, tiers[:1], 3, start=now - timedelta(hours=40), verify_every=0)

    rows = overview.freshness_matrix(tiers, now)

    assert [r.database.name for r in rows] == ["fresh", "learning", "reports"]
    for row in rows:
        # The matrix holds plain rows (no model instances): compare by identity with the model path's answer.
        database = Database.objects.get(pk=row.database.pk)
        for tier, cell in zip(tiers, row.cells, strict=True):
            expected = database.freshness(tier, now)
            assert (cell.status, cell.newest and cell.newest.pk, cell.verified) == (
                expected.status, expected.newest and expected.newest.pk, expected.verified)
    statuses = {r.database.name: [c.status for c in r.cells] for r in rows}
    assert statuses == {"fresh": ["never", "never"], "learning": ["ok", "ok"], "reports": ["late", "never"]}


def test_overview_and_history_take_the_same_number_of_queries_with_ten_times_the_runs(
        client, dba, tiers, django_assert_max_num_queries):
    client.force_login(dba)
    db = Database.objects.create(name="learning", dbname="learning")
    make_runs(db, tiers, 10, start=timezone.now() - timedelta(days=3))
    # 22: signing in (session, user, single sign-on identity, two two-factor device tables, two permission
    # queries) + the overview's 15 (tiers, which hold copies, matrix, copies, failing databases, alerts, running,
    # failed runs, failed verifications, schedules, their databases, two drill queries, server labels, tags).
    with django_assert_max_num_queries(22) as small_home:
        client.get(reverse("home"))
    with django_assert_max_num_queries(12) as small_history:
        client.get(reverse("backups:run_list"))

    make_runs(db, tiers, 100, start=timezone.now() - timedelta(days=40))
    Database.objects.create(name="second", dbname="second")
    with django_assert_max_num_queries(len(small_home.captured_queries)):
        assert client.get(reverse("home")).status_code == 200
    with django_assert_max_num_queries(len(small_history.captured_queries)):
        assert client.get(reverse("backups:run_list")).status_code == 200


def test_overview_says_unverified_and_late_cells_stand_out(client, dba, tiers):
    client.force_login(dba)
    db = Database.objects.create(name="learning", dbname="learning", rpo_hours=24)
    make_runs(db, tiers[:1], 1, start=timezone.now() - timedelta(hours=30), verify_every=0)

    page = client.get(reverse("home")).content.decode()

    assert 'class="fresh-late state-late" data-status="late" data-state="late">' in page
    assert "Late · unverified" in page
    assert "Back up now" in page


def test_history_filters_by_status_verified_and_dates_and_sorts_by_size(client, dba, tiers):
    client.force_login(dba)
    start = timezone.now() - timedelta(days=10)
    db = Database.objects.create(name="learning", dbname="learning")
    make_runs(db, tiers[:1], 10, start=start, every=timedelta(days=1))
    url = reverse("backups:run_list")

    def run_ids(**query) -> list[int]:
        return [r.pk for r in client.get(url, query).context["page"].object_list]

    assert len(run_ids()) == 10
    assert set(run_ids(status="failed")) == set(BackupRun.objects.filter(status="failed").values_list("pk", flat=True))
    verified = set(Verification.objects.values_list("artifact__run_id", flat=True))
    assert set(run_ids(verified="yes")) == verified
    assert not set(run_ids(verified="no")) & verified
    day = (start + timedelta(days=3)).date()
    assert [BackupRun.objects.get(pk=pk).created_at.date() for pk in run_ids(since=day, until=day)] == [day]
    sizes = [BackupRun.objects.get(pk=pk).size_bytes for pk in run_ids(sort="size")]
    assert sizes == sorted(sizes, reverse=True)
    assert run_ids(sort="-size") == list(reversed(run_ids(sort="size")))
    fragment = client.get(url, {"status": "failed"}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="run-table">')


def test_back_up_now_queues_through_django_q_and_goes_to_the_run(client, dba, learning_db):
    client.force_login(dba)

    response = client.post(reverse("backups:backup_now", args=[learning_db.pk]), HTTP_HX_REQUEST="true")

    run = BackupRun.objects.get(database=learning_db)
    assert run.status == BackupRun.Status.QUEUED and run.requested_by == dba
    assert response["HX-Redirect"] == run.get_absolute_url()
    from django_q.models import OrmQ

    assert OrmQ.objects.count() == 1


def test_overview_names_the_next_drill_and_the_open_alerts(client, dba, team_lead, tiers):
    from alerts.models import Alert, Kind, Severity
    from tests.drill_helpers import make_drill

    client.force_login(dba)
    drill = make_drill(team_lead, dba, planned_at=timezone.now() + timedelta(days=3))
    Alert.objects.create(key="freshness:x", kind=Kind.FRESHNESS, severity=Severity.CRITICAL,
                         title="learning in local is late", message="30 h old (RPO 24 h)")
    Alert.objects.create(key="freshness:y", kind=Kind.FRESHNESS, severity=Severity.CRITICAL,
                         title="an old problem", message="gone", resolved_at=timezone.now())

    page = client.get(reverse("home"), {"part": "live"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'href="{drill.get_absolute_url()}"' in page and "overdue" not in page

    problems = client.get(reverse("home"), {"part": "matrix"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'class="problem severity-critical"' in problems
    assert "learning in local is late" in problems and "an old problem" not in problems
