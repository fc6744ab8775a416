"""The dashboard's small cares: destructive actions ask first, a restore over a taken name is refused before it is
queued (in the dashboard's words), every input has a label, flash messages go away, the history marks failures
and its sort, says so when its date range is upside down, and its tables fit a phone."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import messages
from django.urls import reverse
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Restore, RetentionPolicy, Tier
from backups.web.history import HistoryFilters
from tests.drill_helpers import make_drill

# production (owned by a non-superuser login, backed up, then written to) as the replace tests make it
from tests.test_replace_undoes_every_failed_step import owner_login, production  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


class Form(HTMLParser):
    """Every form control of a page with how it is labelled: a <label for>, a wrapping <label>, or aria-label."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**a, "_tag": tag, "_wrapped": self.label_depth > 0})
        elif tag == "script":
            self.scripts.append(a)

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1

    def unlabelled(self) -> list[dict]:
        return [c for c in self.controls if not (c["_wrapped"] or c.get("id") in self.label_for
                                                  or c.get("aria-label") or c.get("aria-labelledby"))]


def parse(html: str) -> Form:
    form = Form()
    form.feed(html)
    return form


def confirm_of(html: str, action: str) -> str | None:
    """The hx-confirm text of the form posting to `action`, or None when it asks nothing."""
    tag = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>', html)
    assert tag, f"no form posting to {action}"
    match = re.search(r'hx-confirm="([^"]*)"', tag.group(0))
    return match.group(1) if match else None


def a_run(database: Database, *, status=BackupRun.Status.SUCCEEDED, days_ago: int = 0, tier=None) -> BackupRun:
    at = timezone.now() - timedelta(days=days_ago)
    run = BackupRun.objects.create(database=database, status=status, created_at=at, started_at=at,
                                   finished_at=at + timedelta(minutes=2), size_bytes=1000)
    if tier is not None and status == BackupRun.Status.SUCCEEDED:
        Artifact.objects.create(run=run, tier=tier, location=f"/x/{run.pk}", sha256="0" * 64, size_bytes=1000,
                                created_at=at)
    return run


# --- destructive actions ask first ----------------------------------------------------------------------------

def test_apply_retention_now_asks_first_and_says_how_many_copies_go(client, dba):
    tier = Tier.objects.get(name="local")
    RetentionPolicy.objects.update_or_create(tier=tier, defaults={"keep_days": 1, "keep_last": 1})
    database = Database.objects.create(name="app", dbname="app")
    for days in (30, 20, 10, 0):
        a_run(database, days_ago=days, tier=tier)
    client.force_login(dba)

    page = client.get(reverse("backups:tier_detail", args=[tier.pk])).content.decode()

    question = confirm_of(page, reverse("backups:apply_retention", args=[tier.pk]))
    assert question and "Apply retention to local now?" in question and "3 copies will be deleted" in question


def test_dropping_a_drills_restored_database_asks_first(client, team_lead, dba):
    database = Database.objects.create(name="app", dbname="app")
    run = a_run(database, tier=Tier.objects.get(name="local"))
    drill = make_drill(team_lead, dba, database=database)
    drill.restore = Restore.objects.create(artifact=run.artifacts.get(), target_database="lifeboat_drill_1_ab",
                                           status=Restore.Status.SUCCEEDED, requested_by=team_lead)
    drill.restored_database = "lifeboat_drill_1_ab"
    drill.validated_at = timezone.now()
    drill.save()
    client.force_login(team_lead)

    page = client.get(drill.get_absolute_url()).content.decode()

    question = confirm_of(page, reverse("drills:drop_restored", args=[drill.pk]))
    assert question and "Drop the restored database lifeboat_drill_1_ab now?" in question


# --- a restore over a taken name is refused when asked, in the dashboard's words -----------------------------

def test_a_restore_into_an_existing_database_is_refused_before_it_is_queued(client, dba, learning_db, pg_server):
    run = a_run(learning_db, tier=Tier.objects.get(name="local"))
    taken = pg_server.create_database("lbt_taken")
    client.force_login(dba)
    try:
        response = client.post(reverse("backups:restore_new", args=[run.artifacts.get().pk]),
                               {"target_database": taken}, follow=True)
    finally:
        pg_server.drop_database(taken)

    said = [str(m) for m in response.context["messages"]]
    assert not Restore.objects.exists()  # nothing queued to fail later in a worker
    assert len(said) == 1 and f"a database named {taken} already exists" in said[0]
    assert "restores only into a new database" in said[0]
    assert "--" not in said[0]  # no command-line flags (--force, --replace) in the dashboard


def test_a_restore_over_the_protected_database_names_it_without_command_line_flags(client, dba, learning_db):
    run = a_run(learning_db, tier=Tier.objects.get(name="local"))
    client.force_login(dba)

    response = client.post(reverse("backups:restore_new", args=[run.artifacts.get().pk]),
                           {"target_database": learning_db.dbname}, follow=True)

    said = " ".join(str(m) for m in response.context["messages"])
    assert f"is the protected database {learning_db.name}" in said and "--" not in said
    assert not Restore.objects.exists()


# --- every input labelled -------------------------------------------------------------------------------------

def test_every_input_of_the_run_page_has_a_label_and_the_restore_inputs_a_visible_one(client, dba):
    run = a_run(Database.objects.create(name="app", dbname="app"), tier=Tier.objects.get(name="local"))
    client.force_login(dba)

    form = parse(client.get(run.get_absolute_url()).content.decode())

    assert form.unlabelled() == []
    restore_inputs = [c for c in form.controls if c.get("name") in ("target_database", "tables")]
    assert len(restore_inputs) == 3 and all(c["_wrapped"] and not c.get("placeholder") for c in restore_inputs)


@pytest.mark.parametrize("url", ["home", "backups:run_list", "drills:list", "drills:schedule", "alerts:list",
                                 "backups:tier_list"])
def test_no_input_on_the_main_pages_goes_unlabelled(client, dba, url):
    Database.objects.create(name="app", dbname="app")
    client.force_login(dba)
    assert parse(client.get(reverse(url)).content.decode()).unlabelled() == []


# --- flash messages go away -----------------------------------------------------------------------------------

def test_flash_messages_can_be_dismissed_and_good_news_hides_itself_by_a_static_script(client, dba):
    database = Database.objects.create(name="app", dbname="app", enabled=True)
    client.force_login(dba)
    BackupRun.objects.create(database=database, status=BackupRun.Status.RUNNING)  # so the second ask is refused

    page = client.post(reverse("backups:backup_now", args=[database.pk]), follow=True).content.decode()

    message = re.search(r'<p class="message[^"]*"[^>]*>.*?</p>', page, re.S).group(0)
    assert 'data-dismiss' in message and 'aria-label="Dismiss this message"' in message
    assert "data-auto-hide" not in message  # a warning stays until dismissed
    form = parse(page)
    assert form.scripts and all(s.get("src") for s in form.scripts)  # no inline script (the CSP allows none)
    assert any(s["src"].endswith("js/lifeboat.js") for s in form.scripts)
    script = (ROOT / "static" / "js" / "lifeboat.js").read_text()
    assert "[data-dismiss]" in script and "data-auto-hide" in script


def test_good_news_is_marked_to_hide_itself(client, dba, rf):
    client.force_login(dba)
    session_page = client.get(reverse("home"))
    assert session_page.status_code == 200
    request = session_page.wsgi_request
    messages.success(request, "Done.")
    from django.template.loader import render_to_string
    html = render_to_string("base.html", {"messages": messages.get_messages(request)}, request=request)
    assert re.search(r'<p class="message success"[^>]*data-auto-hide', html)


# --- the history ---------------------------------------------------------------------------------------------

def test_failed_rows_are_marked_by_more_than_colour(client, dba):
    database = Database.objects.create(name="app", dbname="app")
    a_run(database, status=BackupRun.Status.FAILED)
    a_run(database, days_ago=1)
    client.force_login(dba)

    page = client.get(reverse("backups:run_list")).content.decode()

    failed = re.search(r'<tr class="status-failed" data-status="failed">.*?</tr>', page, re.S).group(0)
    assert '<span class="mark-failed" aria-hidden="true">✗</span> Failed' in failed
    good = re.search(r'<tr class="status-succeeded" data-status="succeeded">.*?</tr>', page, re.S).group(0)
    assert "mark-failed" not in good


def test_the_sorted_column_shows_its_arrow_and_aria_sort(client, dba):
    Database.objects.create(name="app", dbname="app")
    a_run(Database.objects.get(name="app"))
    client.force_login(dba)

    default = client.get(reverse("backups:run_list")).content.decode()
    by_name = client.get(reverse("backups:run_list"), {"sort": "database"}).content.decode()
    by_name_reversed = client.get(reverse("backups:run_list"), {"sort": "-database"}).content.decode()

    assert re.search(r'<th scope="col" aria-sort="descending" class="sorted"><a [^>]*>Started \(UTC\) '
                     r'<span aria-hidden="true">▼</span>', default)
    assert default.count("aria-sort=") == 1
    assert re.search(r'aria-sort="ascending" class="sorted"><a [^>]*>Database <span aria-hidden="true">▲', by_name)
    assert re.search(r'aria-sort="descending" class="sorted"><a [^>]*>Database <span aria-hidden="true">▼',
                     by_name_reversed)


def test_the_sort_direction_follows_each_columns_natural_order():
    assert HistoryFilters(sort="started").direction("started") == "descending"
    assert HistoryFilters(sort="-started").direction("started") == "ascending"
    assert HistoryFilters(sort="size").direction("size") == "descending"
    assert HistoryFilters(sort="status").direction("status") == "ascending"
    assert HistoryFilters(sort="status").direction("size") == ""


def test_an_inverted_date_range_says_so_and_offers_the_swapped_range(client, dba):
    database = Database.objects.create(name="app", dbname="app")
    a_run(database, days_ago=3)
    client.force_login(dba)
    since, until = date.today(), date.today() - timedelta(days=7)

    page = client.get(reverse("backups:run_list"), {"since": since.isoformat(), "until": until.isoformat()})

    html = page.content.decode()
    assert "data-inverted-range" in html and f"“From” ({since}) is after “Until” ({until})" in html
    swapped = re.search(r'href="\?([^"]*)">Show', html).group(1).replace("&amp;", "&")
    assert f"since={until}" in swapped and f"until={since}" in swapped
    assert client.get(reverse("backups:run_list") + "?" + swapped).content.decode().count("data-status=") == 1


def test_the_history_table_sits_in_a_container_that_scrolls_so_the_page_does_not(client, dba):
    a_run(Database.objects.create(name="app", dbname="app"))
    client.force_login(dba)
    page = client.get(reverse("backups:run_list")).content.decode()
    assert re.search(r'<div class="table-scroll"><table class="runs">', page)
    css = (Path(settings.BASE_DIR) / "static" / "css" / "lifeboat.css").read_text()
    assert re.search(r"\.table-scroll \{ overflow-x: auto;", css)


# --- restore over production: only with its name typed again ---------------------------------------------------

def test_replacing_production_needs_its_name_typed_again_and_a_wrong_name_queues_nothing(
        client, admin_user, dba, learning_db, tasks_inline):
    run = a_run(learning_db, tier=Tier.objects.get(name="local"))
    artifact = run.artifacts.get()
    client.force_login(admin_user)

    form = parse(client.get(run.get_absolute_url()).content.decode())
    typed = [c for c in form.controls if c.get("name") == "confirm_name"]
    assert len(typed) == 1 and typed[0]["_wrapped"] and "required" in typed[0]
    page = client.get(run.get_absolute_url()).content.decode()
    assert "Replace production" in confirm_of(page, reverse("backups:replace_production", args=[artifact.pk]))

    for wrong in ("", "learning", learning_db.dbname.upper()):
        response = client.post(reverse("backups:replace_production", args=[artifact.pk]),
                               {"confirm_name": wrong}, follow=True)
        said = " ".join(str(m) for m in response.context["messages"])
        assert f"type the database's name, {learning_db.dbname}, exactly to confirm" in said and "--" not in said
    assert not Restore.objects.exists()  # nothing ran: a queued replace would have left its record

    client.force_login(dba)  # a DBA restores into new databases; only an Admin replaces production
    assert "confirm_name" not in client.get(run.get_absolute_url()).content.decode()
    assert client.post(reverse("backups:replace_production", args=[artifact.pk]),
                       {"confirm_name": learning_db.dbname}).status_code == 403


def test_an_admin_replaces_production_from_the_run_page_after_typing_its_name(
        client, admin_user, production, pg_server, tasks_inline):  # noqa: F811 (the imported fixture)
    database, run = production
    client.force_login(admin_user)

    client.post(reverse("backups:replace_production", args=[run.artifacts.get().pk]),
                {"confirm_name": database.dbname}, HTTP_HX_REQUEST="true")

    record = Restore.objects.get(mode=Restore.Mode.REPLACE)
    try:
        assert record.status == Restore.Status.SUCCEEDED, (record.error, record.steps)
        assert record.requested_by == admin_user
        assert pg_server.query(database.dbname, "SELECT count(*) FROM orders")[0][0] == 5  # as backed up
        assert pg_server.query(record.forensic_database, "SELECT count(*) FROM orders")[0][0] == 6  # kept
    finally:
        pg_server.drop_database(record.forensic_database)


def test_a_name_taken_between_asking_and_running_fails_the_restore_in_the_dashboards_words(
        client, dba, learning_db, pg_server, monkeypatch, settings):
    from backups import tasks
    from backups.engine import pipeline

    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)  # the worker is this test
    record = tasks.queue_restore(run.artifacts.get(), f"{learning_db.dbname}_late", user=dba)
    with pg_server.connect() as conn:  # someone takes the name before a worker runs the restore
        conn.execute(f'CREATE DATABASE "{record.target_database}"')
    try:
        assert tasks.run_restore(record.pk) == Restore.Status.FAILED
    finally:
        pg_server.drop_database(record.target_database)

    record.refresh_from_db()
    assert "was created on the server after this restore was asked for" in record.error
    assert "nothing was overwritten" in record.error and "--" not in record.error
