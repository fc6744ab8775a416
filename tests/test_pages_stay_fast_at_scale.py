"""Speed at scale: the tier page plans every copy but renders one page, in a bounded number of queries; the overview
asks nothing of a tier that holds no copy; the history's queries do not grow with the history."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, RetentionPolicy, Tier, Verification, refresh_verdicts
from backups.web.tiers import PREVIEW_PAGE


def fill(tier: Tier, databases: int, runs_each: int, prefix: str = "db") -> None:
    start = timezone.now() - timedelta(days=runs_each)
    for d in range(databases):
        database = Database.objects.create(name=f"{prefix}{d}", dbname=f"{prefix}{d}")
        runs = BackupRun.objects.bulk_create(
            BackupRun(database=database, status=BackupRun.Status.SUCCEEDED, created_at=start + timedelta(days=i),
                      started_at=start + timedelta(days=i), size_bytes=1000) for i in range(runs_each))
        runs = list(BackupRun.objects.filter(database=database))
        copies = Artifact.objects.bulk_create(Artifact(run=r, tier=tier, location=f"/x/{r.pk}", sha256="0" * 64,
                                                       created_at=r.created_at) for r in runs)
        copies = list(Artifact.objects.filter(run__database=database, tier=tier))
        Verification.objects.bulk_create(Verification(artifact=c, status="passed") for c in copies[::10])
        refresh_verdicts(Artifact.objects.filter(run__database=database))  # bulk_create sends no signal


def test_the_tier_page_renders_one_page_of_the_plan_in_bounded_queries(client, dba, django_assert_max_num_queries):
    tier = Tier.objects.get(name="local")
    RetentionPolicy.objects.update_or_create(tier=tier, defaults={"keep_days": 30, "keep_last": 7})
    fill(tier, databases=3, runs_each=150)
    client.force_login(dba)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("backups:tier_detail", args=[tier.pk])).content.decode()

    assert page.count("<tr data-copy=") == PREVIEW_PAGE
    assert "of 450 copies" in page and "Page 1 of 5" in page
    second = client.get(reverse("backups:tier_detail", args=[tier.pk]), {"page": 2}, HTTP_HX_REQUEST="true")
    assert second.content.decode().count("<tr data-copy=") == PREVIEW_PAGE


def test_the_tier_page_plans_only_the_deciding_copies(client, dba, django_assert_max_num_queries):
    """However many copies and databases the tier holds, the same queries: the deciding copies (one window query),
    the counts, the page shown; no query per copy or per database."""
    tier = Tier.objects.get(name="local")
    RetentionPolicy.objects.update_or_create(tier=tier, defaults={"keep_days": 30, "keep_last": 7,
                                                                  "monthly_months": 12})
    fill(tier, databases=1, runs_each=40)
    client.force_login(dba)
    with django_assert_max_num_queries(12) as small:
        client.get(reverse("backups:tier_detail", args=[tier.pk]))
    fill(tier, databases=4, runs_each=200, prefix="more")

    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        page = client.get(reverse("backups:tier_detail", args=[tier.pk])).content.decode()

    assert "of 840 copies" in page
    assert not any("backups_verification" in q["sql"] for q in large.captured_queries)  # the verdict column


def test_the_tier_page_reads_no_query_of_the_whole_tier_row_by_row(client, dba):
    """What grows with the tier is counted in the database and never sorted: every query of the page that reads the
    copies aggregates them (COUNT, SUM) or stops at a LIMIT; none ranks them with a window function (which sorts
    every copy of the tier, as the page did at 1.2-2.5 s with 100,000 copies)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tier = Tier.objects.get(name="local")
    tier.archive_prefix = "archive/"
    tier.save()
    RetentionPolicy.objects.update_or_create(tier=tier, defaults={"keep_days": 30, "keep_last": 7,
                                                                  "monthly_months": 12})
    fill(tier, databases=3, runs_each=150)
    client.force_login(dba)

    for page in (1, 3, 5):  # deletions, across into the copies kept, the last
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("backups:tier_detail", args=[tier.pk]), {"page": page})
        assert response.status_code == 200
        reads = [q["sql"] for q in captured.captured_queries if "backups_artifact" in q["sql"]]
        assert len(reads) >= 4  # the totals, the deciding copies, the counts, the page
        for sql in reads:
            assert " OVER (" not in sql, sql
            assert "LIMIT" in sql or "COUNT(" in sql, sql


def test_the_overview_does_not_search_a_tier_that_holds_no_copy(client, dba, django_assert_max_num_queries):
    local = Tier.objects.get(name="local")
    fill(local, databases=2, runs_each=20)
    empty = Tier.objects.create(name="offsite", kind=Tier.Kind.LOCAL, path="/tmp/offsite", require_verified=True)
    client.force_login(dba)

    with django_assert_max_num_queries(22) as captured:
        page = client.get(reverse("home")).content.decode()

    matrix = next(q["sql"] for q in captured.captured_queries if "backups_database" in q["sql"]
                  and "newest_" in q["sql"])
    assert f"newest_{empty.pk}" not in matrix and f"verified_{empty.pk}" not in matrix
    assert 'data-state="never"' in page


def test_the_history_page_takes_the_same_queries_however_long_the_history(client, dba,
                                                                         django_assert_max_num_queries):
    local = Tier.objects.get(name="local")
    fill(local, databases=1, runs_each=5)
    client.force_login(dba)
    with django_assert_max_num_queries(12) as small:
        client.get(reverse("backups:run_list"))
    fill(local, databases=2, runs_each=60, prefix="more")  # more databases, a longer history
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse("backups:run_list")).status_code == 200


def test_the_overview_and_the_tier_list_take_the_same_queries_for_forty_databases_as_for_two(
        client, dba, django_assert_max_num_queries):
    local = Tier.objects.get(name="local")
    second = Tier.objects.create(name="second", kind=Tier.Kind.LOCAL, path="/tmp/second")
    fill(local, databases=2, runs_each=3)
    client.force_login(dba)
    # 22: the page's own queries plus the session, user and two-factor device lookups every signed-in request makes.
    with django_assert_max_num_queries(22) as few_home:
        client.get(reverse("home"))
    with django_assert_max_num_queries(14) as few_tiers:
        client.get(reverse("backups:tier_list"))

    fill(local, databases=38, runs_each=3, prefix="many")
    fill(second, databases=10, runs_each=2, prefix="both")
    with django_assert_max_num_queries(len(few_home.captured_queries)):
        page = client.get(reverse("home")).content.decode()
    with django_assert_max_num_queries(len(few_tiers.captured_queries)):
        assert client.get(reverse("backups:tier_list")).status_code == 200
    assert page.count("<tr data-database=") == 50
