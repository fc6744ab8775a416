"""A field that names an environment variable holding a secret accepts LIFEBOAT_* and the names listed in
LIFEBOAT_SECRET_ENV_ALLOW only: an Admin cannot make Lifeboat read AWS_SECRET_ACCESS_KEY and send it to a host
of their choosing. Rows saved before keep working and are listed by `manage.py check`."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from alerts.models import Channel
from backups.models import Database, Server
from dashboard.checks import secret_references_outside_the_allowed_set
from tests.helpers import run_command


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "SECRET_KEY", "DATABASE_URL", "PGPASSWORD"])
def test_a_database_may_not_name_a_foreign_variable(db, name):
    database = Database(name="orders", host="127.0.0.1", dbname="orders", password_env=name)
    with pytest.raises(ValidationError) as refused:
        database.full_clean()
    assert "may not hold a secret for Lifeboat" in str(refused.value)


def test_lifeboat_names_and_listed_names_are_accepted(db, settings):
    Database(name="orders", host="127.0.0.1", dbname="orders", password_env="LIFEBOAT_ORDERS_PW").full_clean()
    settings.LIFEBOAT_SECRET_ENV_ALLOW = ["ORDERS_DB_PASSWORD"]
    Database(name="orders2", host="127.0.0.1", dbname="orders", password_env="ORDERS_DB_PASSWORD").full_clean()


def test_servers_and_channels_are_held_to_the_same_rule(db):
    with pytest.raises(ValidationError):
        Server(name="prod", host="10.0.0.1", password_env="AWS_SECRET_ACCESS_KEY").full_clean()
    with pytest.raises(ValidationError):
        Channel(name="slack", url_env="AWS_SECRET_ACCESS_KEY").full_clean()


def test_add_database_refuses_a_foreign_variable_in_one_line(db):
    code, out, err = run_command("add_database", "orders", "--dsn", "postgresql://app@127.0.0.1:5432/orders",
                                 "--password-env", "AWS_SECRET_ACCESS_KEY")
    assert code == 1 and "AWS_SECRET_ACCESS_KEY may not hold a secret for Lifeboat" in err
    assert not Database.objects.exists()


def test_restore_refuses_a_foreign_target_password_variable(db):
    code, out, err = run_command("restore", "1", "--target-db", "x", "--target-dsn",
                                 "postgresql://postgres@127.0.0.1:5432/postgres",
                                 "--target-password-env", "AWS_SECRET_ACCESS_KEY")
    assert code == 1 and "AWS_SECRET_ACCESS_KEY may not hold a secret for Lifeboat" in err


def test_existing_rows_outside_the_set_keep_working_and_are_listed_by_check(db, monkeypatch):
    legacy = Database.objects.create(name="legacy", host="127.0.0.1", dbname="legacy", password_env="OLD_DB_PW")
    monkeypatch.setenv("OLD_DB_PW", "s3cret")
    assert legacy.connection_options().env({})["PGPASSWORD"] == "s3cret"  # still works
    warnings = secret_references_outside_the_allowed_set()
    assert [w.id for w in warnings] == ["lifeboat.W001"] and "OLD_DB_PW" in warnings[0].msg
