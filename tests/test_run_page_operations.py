"""From a run's page a DBA verifies a copy and restores it into a new database; both go through django-q2."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backups.engine import pipeline
from backups.models import Restore, Verification
from tests.helpers import table_counts

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def good_run(learning_db, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    return run


def test_dba_verifies_a_copy_from_the_run_page_and_sees_every_check(client, dba, good_run, tasks_inline):
    artifact = good_run.artifacts.get()
    client.force_login(dba)

    response = client.post(reverse("backups:verify", args=[artifact.pk]), **HTMX)

    assert response.status_code == 200 and response["HX-Redirect"] == good_run.get_absolute_url()
    record = Verification.objects.get(artifact=artifact)
    assert record.status == Verification.Status.PASSED, record.error
    assert record.requested_by == dba
    page = client.get(good_run.get_absolute_url()).content.decode()
    for check in ("size", "sha256", "restore", "row_counts", "objects"):
        assert f"<td>{check}</td><td>passed</td>" in page
    assert "public.users</td><td>250</td><td>250</td>" in page


def test_dba_restores_two_tables_into_a_new_database_from_the_run_page(client, dba, good_run, tasks_inline,
                                                                       pg_server):
    artifact = good_run.artifacts.get()
    target = f"{good_run.database.dbname}_rec"
    client.force_login(dba)
    try:
        client.post(reverse("backups:restore_new", args=[artifact.pk]),
                    {"target_database": target, "tables": "users, lessons"}, **HTMX)

        record = Restore.objects.get(artifact=artifact)
        assert record.status == Restore.Status.SUCCEEDED, record.error
        assert record.mode == Restore.Mode.TABLES and record.requested_by == dba
        assert table_counts(pg_server, target, ["users", "lessons"]) == {"users": 250, "lessons": 40}
        assert not pg_server.query(target, "SELECT 1 FROM pg_tables WHERE tablename = 'problems'")
        assert f"{target}</td>" in client.get(good_run.get_absolute_url()).content.decode()
    finally:
        pg_server.drop_database(target)


def test_a_restore_over_the_protected_database_is_refused_before_anything_is_queued(client, dba, good_run):
    artifact = good_run.artifacts.get()
    client.force_login(dba)

    response = client.post(reverse("backups:restore_new", args=[artifact.pk]),
                           {"target_database": good_run.database.dbname}, follow=True)

    assert f"is the protected database {good_run.database.name}" in response.content.decode()
    assert not Restore.objects.exists()


def test_run_page_polls_while_a_verification_is_queued_and_stops_after(client, dba, good_run):
    artifact = good_run.artifacts.get()
    record = Verification.objects.create(artifact=artifact)
    client.force_login(dba)

    assert 'hx-trigger="every 2s"' in client.get(good_run.get_absolute_url()).content.decode()
    record.status = Verification.Status.PASSED
    record.save()
    fragment = client.get(good_run.get_absolute_url(), **HTMX).content.decode()
    assert 'id="operations"' in fragment and "every 2s" not in fragment and "<h1>" not in fragment


def test_an_auditor_sees_the_run_but_cannot_verify_or_restore(client, auditor, good_run):
    artifact = good_run.artifacts.get()
    client.force_login(auditor)

    page = client.get(good_run.get_absolute_url())
    assert page.status_code == 200 and "Verify this copy" not in page.content.decode()
    assert client.post(reverse("backups:verify", args=[artifact.pk])).status_code == 403
    assert client.post(reverse("backups:restore_new", args=[artifact.pk]), {"target_database": "x"}).status_code == 403
    assert not Verification.objects.exists() and not Restore.objects.exists()


def test_the_polled_part_brings_the_row_counts_and_log_when_the_run_ends(client, dba, learning_db):
    """The page opened while the run was queued learns its counts and log from the poll, without a reload."""
    run = pipeline._create_run(learning_db, "queued", "manual")
    client.force_login(dba)
    assert "Counted when the dump finishes." in client.get(run.get_absolute_url(), **HTMX).content.decode()

    finished = pipeline.execute(pipeline.claim(run.pk))

    assert finished.status == "succeeded", finished.error
    fragment = client.get(run.get_absolute_url(), **HTMX).content.decode()
    assert "<h1>" not in fragment
    assert "<td>public.users</td><td>250</td>" in fragment
    assert "dumped" in fragment and "tier local: stored" in fragment
