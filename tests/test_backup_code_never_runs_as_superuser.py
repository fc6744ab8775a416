"""Code inside a backup never runs with more rights than its owner had.

An ordinary role plants a function that makes itself superuser when it runs as a superuser, called by a CHECK
constraint while rows are loaded; it records in a marker table that it ran, and as whom. Verification, restore and
drill restore load backups as the restricted restore role: the function runs (the marker says so), as that role,
and the role stays ordinary. What the restore role may not create makes a verification "not verifiable here".
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from psycopg import sql

from backups.engine import pipeline
from backups.models import Database
from backups.proof import verification
from drills import recovery
from tests.conftest import drop_role_and_databases
from tests.drill_helpers import make_drill
from tests.helpers import run_command

PLANT = """
CREATE TABLE marker (ran_as text, was_superuser boolean);
CREATE FUNCTION escalate(v int) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO public.marker SELECT current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'ALTER ROLE {role} SUPERUSER';
  END IF;
  RETURN true;
END $f$;
CREATE TABLE payload (v int CHECK (escalate(v)));
INSERT INTO payload VALUES (1);
"""


@pytest.fixture
def planted(pg_server, local_tier):
    """(Database, ordinary role) whose database carries the planted function; the role and its database dropped."""
    role = f"lbt_ordinary_{uuid.uuid4().hex[:10]}"
    name = f"lbt_planted_{uuid.uuid4().hex[:10]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
    as_role = replace(pg_server.target, user=role, dbname=name)
    with as_role.connect() as conn:
        conn.execute(PLANT.replace("{role}", role))
    assert pg_server.query(name, "SELECT ran_as, was_superuser FROM marker") == [(role, False)]
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)  # Lifeboat's login: superuser
    yield database, role
    drop_role_and_databases(pg_server.target, role)


def is_superuser(pg_server, role: str) -> bool:
    return pg_server.query("postgres", "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,))[0][0]


def loaded_by_marker(pg_server, dbname: str) -> list[tuple[str, bool]]:
    """Marker rows the restore added (the source's own row, written by the role itself, left out)."""
    return pg_server.query(dbname, "SELECT ran_as, was_superuser FROM marker WHERE ran_as NOT LIKE 'lbt_ordinary_%%'")


def test_verification_runs_the_planted_code_as_the_restore_role(planted, pg_server, restore_role_name,
                                                                 learning_db, tasks_inline, monkeypatch):
    database, role = planted
    seen: dict[str, list] = {}
    drop = verification.drop_database

    def look_then_drop(server, name):  # the scratch database is read just before it is dropped
        if pg_server.query(name, "SELECT to_regclass('public.marker')")[0][0]:
            seen[name] = loaded_by_marker(pg_server, name)
        drop(server, name)

    monkeypatch.setattr(verification, "drop_database", look_then_drop)
    run = pipeline.backup(database)  # verification follows the backup
    assert run.status == "succeeded", run.error

    checked = run.artifacts.get().verifications.get()
    assert checked.restored_as == restore_role_name
    assert seen[checked.scratch_database] == [(restore_role_name, False)]  # it ran, as the restore role
    assert not is_superuser(pg_server, role)

    ordinary = pipeline.backup(learning_db).artifacts.get().verifications.get()
    assert ordinary.status == "passed", ordinary.error  # an ordinary database still verifies


def test_restore_and_drill_restore_run_the_planted_code_as_the_restore_role(
        planted, pg_server, restore_role_name, tasks_inline, team_lead, dba, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    database, role = planted
    run = pipeline.backup(database)
    restored = f"lbt_restored_{uuid.uuid4().hex[:8]}"
    drill = make_drill(team_lead, dba, database=database)
    try:
        code, _, err = run_command("restore", str(run.pk), "--target-db", restored)
        assert code == 0, err
        assert loaded_by_marker(pg_server, restored) == [(restore_role_name, False)]
        assert not is_superuser(pg_server, role)

        record = recovery.queue_restore(drill, team_lead)
        record.refresh_from_db()
        assert record.status == "succeeded" and record.restored_as == restore_role_name, record.error
        assert loaded_by_marker(pg_server, record.target_database) == [(restore_role_name, False)]
        assert not is_superuser(pg_server, role)
    finally:
        pg_server.drop_database(restored)
        drill.refresh_from_db()
        if drill.restored_database:
            pg_server.drop_database(drill.restored_database)


@pytest.mark.parametrize("superuser_only, expected", [
    ("CREATE FUNCTION lbt_len(text) RETURNS int LANGUAGE internal STRICT AS 'textlen'",
     "permission denied for language"),
    ("CREATE FUNCTION lbt_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; "
     "CREATE EVENT TRIGGER lbt_ddl ON ddl_command_end EXECUTE FUNCTION lbt_ddl()", "EVENT TRIGGER"),
    ("CREATE EXTENSION postgres_fdw", "EXTENSION postgres_fdw (untrusted)"),
    # A transform for a built-in type (the PostgreSQL regression database has one): only the type's owner, the
    # bootstrap superuser, may create it.
    ("CREATE TRANSFORM FOR integer LANGUAGE sql (FROM SQL WITH FUNCTION prsd_lextype(internal), "
     "TO SQL WITH FUNCTION int4recv(internal))", "must be owner of type integer"),
])
def test_what_the_restore_role_cannot_create_is_not_verifiable_here_never_failed(
        superuser_only, expected, make_source_db, pg_server, local_tier, tasks_inline):
    name = make_source_db("CREATE TABLE t (id int); INSERT INTO t VALUES (1); " + superuser_only)
    try:
        database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                           user=pg_server.target.user, dbname=name)
        run = pipeline.backup(database)
        assert run.status == "succeeded", run.error
        checked = run.artifacts.get().verifications.get()
        assert checked.status == "unverifiable", (checked.status, checked.error)
        assert checked.error.startswith("not verifiable here: ") and expected in checked.error
    finally:
        if "EVENT TRIGGER" in superuser_only:  # the event trigger would fire on the drop's neighbours otherwise
            pg_server.query(name, "DROP EVENT TRIGGER IF EXISTS lbt_ddl")


def test_a_database_with_a_trusted_extension_verifies_as_the_restore_role(make_source_db, pg_server, local_tier,
                                                                          tasks_inline, restore_role_name):
    name = make_source_db("CREATE EXTENSION citext; CREATE TABLE emails (address citext PRIMARY KEY); "
                          "INSERT INTO emails VALUES ('A@example.com'), ('b@example.com')")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    checked = pipeline.backup(database).artifacts.get().verifications.get()
    assert checked.status == "passed", checked.error
    assert checked.restored_as == restore_role_name
