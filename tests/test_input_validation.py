"""Input that cannot work is refused when it is given (command line and admin alike), and rows saved before
these rules existed break nothing: the overview, the alert rules and the schedule sync keep working."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from alerts import rules
from backups.models import Artifact, BackupRun, Database, Server, Tier
from tests.helpers import run_command

DSN = "postgresql://app@db.internal:5432/shop"


@pytest.mark.parametrize("hours", ["1000000000000000000", "8761", "0", "-3"])
def test_an_rpo_outside_one_hour_to_a_year_is_refused(db, hours):
    code, out, err = run_command("add_database", "shop", "--dsn", DSN, "--rpo-hours", hours, "--no-check")

    assert code == 1
    assert "RPO" in err and "1 to 8760" in err and err.strip().count("\n") == 0, err
    assert not Database.objects.exists()


def test_rpo_bounds_are_accepted(db):
    for hours in ("1", "8760"):
        code, out, err = run_command("add_database", f"shop{hours}", "--dsn", DSN, "--rpo-hours", hours,
                                     "--no-check")
        assert code == 0, err


@pytest.mark.parametrize(("schedule", "message"), [
    ("0 2 31 2 *", "no run within a year"),          # 31 February never comes
    ("0 0 30 2 *", "no run within a year"),
    ("0 2 * * * *", "five fields"),                  # croniter reads a sixth field as seconds
    ("0 2 * *", "five fields"),
    ("every day", "not a valid cron"),
    ("61 2 * * *", "not a valid cron"),
])
def test_a_schedule_that_cannot_run_is_refused(db, schedule, message):
    code, out, err = run_command("add_database", "shop", "--dsn", DSN, "--schedule", schedule, "--no-check")

    assert code == 1
    assert message in err and err.strip().count("\n") == 0, err
    assert not Database.objects.exists() and not Schedule.objects.filter(name="backup:shop").exists()


def test_the_admin_refuses_the_same_values(db):
    for model in (Database(name="shop", host="h", user="u", dbname="d"), Server(name="prod", host="h")):
        for field, value, message in (("rpo_hours", 10**18, "1 to 8760"), ("schedule", "0 2 31 2 *", "within a year"),
                                      ("schedule", "*/5 * * * * *", "five fields")):
            candidate = type(model)(**{f.name: getattr(model, f.name) for f in model._meta.concrete_fields
                                       if f.name != "id"})
            setattr(candidate, field, value)
            with pytest.raises(ValidationError, match=message):
                candidate.full_clean()


def test_sync_schedules_goes_on_past_a_database_whose_schedule_cannot_run(db):
    Database.objects.bulk_create([  # rows saved before validation existed (bulk_create: no signals, no checks)
        Database(name="a-bad", host="h", user="u", dbname="a", schedule="0 2 31 2 *"),
        Database(name="b-good", host="h", user="u", dbname="b", schedule="0 3 * * *"),
    ])

    code, out, err = run_command("sync_schedules")

    assert code == 1
    assert "a-bad" in err and "0 2 31 2 *" in err
    assert Schedule.objects.get(name="backup:b-good").cron == "0 3 * * *"
    assert Schedule.objects.filter(name="lifeboat:mark-abandoned").exists()


def test_add_database_refuses_a_database_the_server_does_not_have(db, pg_server):
    dsn = pg_server.target.with_dbname("lifeboat_no_such_database_anywhere").dsn

    code, out, err = run_command("add_database", "ghost", "--dsn", dsn)
    assert code == 1 and 'database "lifeboat_no_such_database_anywhere" does not exist' in err
    assert err.strip().count("\n") == 0 and not Database.objects.exists()

    code, out, err = run_command("add_database", "ghost", "--dsn", dsn, "--no-check")
    assert code == 0 and "not checked" in out


def test_add_database_reports_version_size_and_tables(db, pg_server, make_source_db):
    name = make_source_db("CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE SCHEMA s; "
                          "CREATE TABLE s.c (x text)", prefix="lbt_check")

    code, out, err = run_command("add_database", "checked", "--dsn", pg_server.target.with_dbname(name).dsn)

    assert code == 0, err
    assert "checked: PostgreSQL 15." in out and "3 tables" in out
    assert any(unit in out for unit in (" KiB", " MiB")), out


@pytest.mark.parametrize("hours", [2_000_000_000, 10**18])
def test_rows_with_a_huge_rpo_from_before_break_neither_the_overview_nor_the_alerts(db, client, make_user, hours):
    if hours > 2**31 and connection.vendor != "sqlite":
        pytest.skip("only SQLite stores a value this large in a PositiveIntegerField")
    database = Database.objects.create(name="old", host="h", user="u", dbname="d")
    Database.objects.create(name="never-backed-up", host="h", user="u", dbname="e")
    Database.objects.update(rpo_hours=hours)  # stored before the bound existed
    now = timezone.now()
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, started_at=now,
                                   finished_at=now, created_at=now - timedelta(days=2))
    Artifact.objects.create(run=run, tier=Tier.objects.get(name="local"), location="/x/old", size_bytes=1,
                            sha256="0" * 64, created_at=now)
    database.refresh_from_db()

    assert database.freshness(Tier.objects.get(name="local")).status == "ok"
    assert list(rules.freshness(timezone.now())) == []  # the rule runs (it raised for every database)
    client.force_login(make_user("dana", "DBA"))
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("backups:database_detail", args=["old"])).status_code == 200


@pytest.mark.parametrize(("field", "value", "message"), [
    ("rpo_hours", "1000000000000000000", "1 to 8760"),
    ("schedule", "0 2 31 2 *", "no run within a year"),
    ("schedule", "0 2 * * * *", "five fields"),
    ("libpq_options", "sslmode=require&password=x", "never stores passwords"),
])
def test_the_admin_form_shows_the_error_and_saves_nothing(client, make_user, field, value, message):
    database = Database.objects.create(name="orders", host="h", user="u", dbname="orders")
    client.force_login(make_user("ada", "Admin", is_staff=True))
    form = {"name": "orders", "enabled": "on", "host": "h", "port": 5432, "dbname": "orders", "user": "u",
            "libpq_options": "", "password_env": "", "passfile": "", "rpo_hours": 24, "schedule": "0 2 * * *",
            field: value}

    response = client.post(reverse("admin:backups_database_change", args=[database.pk]), form)

    assert response.status_code == 200 and message in response.content.decode()
    database.refresh_from_db()
    assert (database.rpo_hours, database.schedule, database.libpq_options) == (24, "0 2 * * *", "")
