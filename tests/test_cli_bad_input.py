"""Bad input gets a clear one-line error and a non-zero exit, and creates nothing."""

from __future__ import annotations

import pytest

from backups.models import Database
from tests.helpers import run_command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("backup", "nosuch"), "unknown database 'nosuch'"),
        (("add_database", "x", "--dsn", "mysql://u@h/db"), "malformed DSN"),
        (("add_database", "x", "--dsn", "postgresql://u@h:port/db"), "the port is not a number"),
        (("add_database", "x", "--dsn", "postgresql://h/db"), "malformed DSN"),
        (("add_database", "x", "--dsn", "postgresql://u:secret@h/db"), "the DSN contains a password"),
        (("add_database", "x;rm -rf /", "--dsn", "postgresql://u@h/db"), "no spaces or shell characters"),
        (("add_database", "x", "--dsn", "postgresql://u@h/db;rm"), "contains characters Lifeboat does not accept"),
        (("add_database", "x", "--dsn", "postgresql://u@h/db", "--schedule", "every day"), "not a valid cron"),
        (("restore", "999", "--target-db", "x"), "unknown backup run 999"),
    ],
)
def test_bad_input_is_refused_clearly(db, args, message):
    code, out, err = run_command(*args)
    assert code != 0
    assert message in err
    assert "\n" not in err.strip(), "the error should be one line"
    assert not Database.objects.exists()


def test_add_database_creates_then_updates(db):
    code, out, _ = run_command("add_database", "dsa", "--dsn", "postgresql://dsa_user@db.internal:5433/dsa_learning",
                               "--password-env", "LIFEBOAT_DSA_DB_PASSWORD", "--rpo-hours", "4", "--no-check")
    assert code == 0 and "added dsa" in out
    database = Database.objects.get(name="dsa")
    assert (database.host, database.port, database.user, database.dbname) == (
        "db.internal", 5433, "dsa_user", "dsa_learning")
    assert database.password_env == "LIFEBOAT_DSA_DB_PASSWORD" and database.rpo_hours == 4
    assert database.schedule == "0 2 * * *"

    code, out, _ = run_command("add_database", "dsa", "--dsn", "postgresql://dsa_user@db.internal:5433/dsa_learning",
                               "--schedule", "30 1 * * *", "--no-check")
    assert code == 0 and "updated dsa" in out
    database.refresh_from_db()
    assert database.schedule == "30 1 * * *" and database.rpo_hours == 4


def test_unreachable_server_exits_1_with_one_line(db, backup_root):
    Database.objects.create(name="far", host="127.0.0.1", port=1, dbname="x", user="postgres")
    code, _, err = run_command("backup", "far")
    assert code == 1
    assert "cannot connect to postgresql://postgres@127.0.0.1:1/x" in err
