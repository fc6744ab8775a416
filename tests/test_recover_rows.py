"""Getting deleted rows back (the accidental-deletion scenario, end to end): compare a backup's tables with
production by primary key, insert only the missing rows, parents first, as each table's owner, never overwriting."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from psycopg import sql

from audit.models import AuditEvent
from backups.engine import pipeline
from backups.models import Database
from tests.helpers import run_command, run_json

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, profile jsonb DEFAULT '{{}}');
CREATE TABLE lessons (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE problems (id serial PRIMARY KEY, lesson_id int NOT NULL REFERENCES lessons (id), statement text);
CREATE TABLE notes (body text);
CREATE TABLE row_log (who text, email text);
CREATE FUNCTION log_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO row_log VALUES (current_user, NEW.email); RETURN NEW; END $$;
CREATE TRIGGER users_log AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION log_user();
INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 50) g;
INSERT INTO lessons (title) SELECT 'Lesson ' || g FROM generate_series(1, 20) g;
INSERT INTO problems (lesson_id, statement) SELECT 1 + g % 20, 'Problem ' || g FROM generate_series(1, 60) g;
INSERT INTO notes VALUES ('no key here');
ALTER TABLE users OWNER TO {owner}; ALTER TABLE lessons OWNER TO {owner}; ALTER TABLE problems OWNER TO {owner};
ALTER TABLE row_log OWNER TO {owner}; ALTER FUNCTION log_user() OWNER TO {owner};
"""


@pytest.fixture
def owner(pg_server):
    name = f"lbt_owner_{uuid.uuid4().hex[:8]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    yield name
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def accident(owner, db, pg_server, make_source_db, backup_root):
    """A backup, then an accident: lessons 1-5 and their problems deleted, users 2-11 deleted, user 1 changed,
    and a new user took the e-mail address of deleted user 12."""
    name = make_source_db(SCHEMA.format(owner=owner), prefix="lbt_rows")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    with pg_server.connect(name) as conn:
        conn.execute("DELETE FROM problems WHERE lesson_id <= 5")
        conn.execute("DELETE FROM lessons WHERE id <= 5")
        conn.execute("DELETE FROM users WHERE id BETWEEN 2 AND 12")
        conn.execute("UPDATE users SET email = 'changed@example.com' WHERE id = 1")
        conn.execute("INSERT INTO users (id, email) VALUES (1000, 'user12@example.com')")
        conn.execute("TRUNCATE row_log")
    return run, name


def counts(pg_server, name: str) -> dict[str, int]:
    return {t: pg_server.query(name, f"SELECT count(*) FROM {t}")[0][0] for t in ("users", "lessons", "problems")}


def leftovers(pg_server, run) -> list:
    return pg_server.query("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                           (f"lifeboat\\_rows\\_{run.pk}\\_%",))


def test_dry_run_counts_missing_changed_and_equal_and_changes_nothing(accident, pg_server):
    run, name = accident
    before = counts(pg_server, name)

    code, result = run_json("recover_rows", str(run.pk), "--table", "users", "--table", "public.lessons",
                            "--table", "problems", "--dry-run")

    assert code == 0, result
    by_table = {t["table"]: t for t in result["tables"]}
    assert {k: by_table["public.users"][k] for k in ("missing", "changed", "equal", "inserted")} == \
        {"missing": 11, "changed": 1, "equal": 38, "inserted": 0}
    assert (by_table["public.lessons"]["missing"], by_table["public.lessons"]["equal"]) == (5, 15)
    assert (by_table["public.problems"]["missing"], by_table["public.problems"]["equal"]) == (15, 45)
    assert counts(pg_server, name) == before
    assert leftovers(pg_server, run) == []
    event = AuditEvent.objects.filter(action="rows.compared").latest("pk")
    assert "public.users: 11 missing, 1 changed, 38 equal" in event.summary

    code, out, err = run_command("recover_rows", str(run.pk), "--table", "lessons", "--dry-run")
    assert code == 0 and out.splitlines() == [
        "public.lessons: 5 missing, 0 changed, 15 equal",
        "dry run: production unchanged (run again without --dry-run to insert the missing rows)"]


def test_missing_rows_come_back_parents_first_as_the_owner_never_overwriting(accident, pg_server, owner, dba):
    run, name = accident

    # Children named before their parents: the foreign key decides the order, not the command line.
    code, result = run_json("recover_rows", str(run.pk), "--table", "problems", "--table", "lessons",
                            "--table", "users", "--actor", dba.username)

    assert code == 0, result
    by_table = {t["table"]: t for t in result["tables"]}
    assert [t["table"] for t in result["tables"]].index("public.lessons") < \
        [t["table"] for t in result["tables"]].index("public.problems")
    assert (by_table["public.lessons"]["inserted"], by_table["public.problems"]["inserted"]) == (5, 15)
    # User 12's address is taken by a newer row: not inserted, and said so. The changed user 1 is left alone.
    assert (by_table["public.users"]["inserted"], by_table["public.users"]["skipped"]) == (10, 1)
    assert counts(pg_server, name) == {"users": 50, "lessons": 20, "problems": 60}
    assert pg_server.query(name, "SELECT email FROM users WHERE id = 1") == [("changed@example.com",)]
    assert pg_server.query(name, "SELECT email FROM users WHERE id = 1000") == [("user12@example.com",)]
    # Production's trigger ran for every recovered row, as the table's owner, not as Lifeboat's superuser login.
    assert pg_server.query(name, "SELECT who, count(*) FROM row_log GROUP BY who") == [(owner, 10)]
    assert leftovers(pg_server, run) == []
    event = AuditEvent.objects.filter(action="rows.recovered").latest("pk")
    assert event.actor == dba.username and "public.users: 11 missing, 1 changed, 38 equal, 10 inserted" in \
        event.summary

    code, again = run_json("recover_rows", str(run.pk), "--table", "lessons", "--table", "problems",
                           "--actor", dba.username)
    assert code == 0 and all(t["missing"] == 0 and t["inserted"] == 0 for t in again["tables"])


def test_a_table_without_a_primary_key_is_refused_before_anything_is_restored(accident, pg_server, dba, auditor):
    run, name = accident

    code, out, err = run_command("recover_rows", str(run.pk), "--table", "users")
    assert code == 1 and "needs --actor USER" in err
    code, out, err = run_command("recover_rows", str(run.pk), "--table", "users", "--actor", auditor.username)
    assert code == 1 and "may not insert recovered rows into production" in err
    code, out, err = run_command("recover_rows", str(run.pk), "--table", "users", "--table", "notes",
                                 "--actor", dba.username)

    assert code == 1 and "public.notes has no primary key" in err
    assert leftovers(pg_server, run) == []
    assert counts(pg_server, name)["users"] == 40


def test_the_run_page_compares_then_inserts_on_confirmation(client, dba, auditor, accident, pg_server):
    run, name = accident
    artifact = run.artifacts.get()
    url = reverse("backups:recover_rows", args=[artifact.pk])
    client.force_login(dba)
    assert url in client.get(run.get_absolute_url()).content.decode()

    page = client.post(url, {"tables": "lessons, problems"}).content.decode()

    assert "<td>public.lessons</td><td>id</td><td>5</td><td>0</td><td>15</td>" in page
    assert "Insert 20 missing rows into production" in page
    assert counts(pg_server, name)["lessons"] == 15
    response = client.post(url, {"tables": "lessons, problems", "confirm": "insert"})
    assert response.status_code == 302
    assert counts(pg_server, name)["lessons"] == 20 and counts(pg_server, name)["problems"] == 60
    assert AuditEvent.objects.filter(action="rows.recovered", actor=dba.username).exists()

    client.force_login(auditor)
    assert client.post(url, {"tables": "lessons", "confirm": "insert"}).status_code == 403
