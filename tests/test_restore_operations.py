"""The runbooks' restore operations: new database, selected tables, another server, replace with forensic copy."""

from __future__ import annotations

import uuid

import pytest

from backups.engine import pipeline
from backups.errors import ConfigurationError
from backups.models import Restore
from backups.recovery import replace
from tests.helpers import run_command, run_json, table_counts

TABLES = ["users", "lessons", "problems"]


@pytest.fixture
def good_run(learning_db):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def target_name(pg_server):
    names: list[str] = []

    def make(prefix: str = "lbt_target") -> str:
        names.append(f"{prefix}_{uuid.uuid4().hex[:8]}")
        return names[-1]

    yield make
    for name in names:
        pg_server.drop_database(name)


def test_restore_into_a_new_database_is_recorded(good_run, pg_server, target_name):
    name = target_name()
    code, result = run_json("restore", str(good_run.pk), "--target-db", name)

    assert code == 0, result
    assert result["status"] == "succeeded" and result["mode"] == "new_database"
    assert result["duration_seconds"] > 0
    assert table_counts(pg_server, name, TABLES) == {"users": 250, "lessons": 40, "problems": 120}
    record = Restore.objects.get(pk=result["id"])
    assert record.artifact.run == good_run and record.finished_at >= record.started_at

    code, result = run_json("restore", str(good_run.pk), "--target-db", name)
    assert code == 1 and "already exists (use --force" in result["error"]
    code, result = run_json("restore", str(good_run.pk), "--target-db", name, "--force")
    assert code == 0


def test_restore_of_two_tables_brings_back_exactly_their_rows(good_run, learning_db, pg_server, target_name):
    with pg_server.connect(learning_db.dbname) as conn:  # the accident happens after the backup
        conn.execute("DELETE FROM problems")
        conn.execute("DELETE FROM users WHERE id > 10")
    name = target_name("lbt_recovery")

    code, result = run_json("restore", str(good_run.pk), "--target-db", name, "--table", "users",
                            "--table", "public.lessons")

    assert code == 0, result
    assert result["mode"] == "tables" and result["tables"] == ["public.users", "public.lessons"]
    assert table_counts(pg_server, name, ["users", "lessons"]) == {"users": 250, "lessons": 40}
    assert pg_server.query(name, "SELECT to_regclass('public.problems')")[0][0] is None
    emails = pg_server.query(name, "SELECT email FROM users WHERE id = 123")[0][0]
    assert emails == "user123@example.com"


def test_restore_to_another_server_by_dsn_with_globals(good_run, pg_server, target_name):
    name = target_name("lbt_newserver")
    dsn = pg_server.target.with_dbname("postgres").dsn
    code, result = run_json("restore", str(good_run.pk), "--target-db", name, "--target-dsn", dsn, "--with-globals")
    assert code == 0, result
    assert result["with_globals"] is True and result["target"].endswith(f"/{name}")
    assert table_counts(pg_server, name, ["users"]) == {"users": 250}


def test_replace_keeps_a_forensic_copy_with_the_pre_restore_data(good_run, learning_db, pg_server, admin_user):
    with pg_server.connect(learning_db.dbname) as conn:  # "ransomware" after the backup
        conn.execute("UPDATE users SET email = 'encrypted-' || id")
        conn.execute("INSERT INTO lessons (title) VALUES ('ransom note')")
    holder = pg_server.connect(learning_db.dbname)  # an application still connected
    try:
        code, _, err = run_command("restore", str(good_run.pk), "--replace", "--actor", admin_user.username)
        assert code == 1 and "add --force to confirm" in err

        code, result = run_json("restore", str(good_run.pk), "--replace", "--force", "--actor", admin_user.username)
    finally:
        holder.close()
    assert code == 0, result
    forensic = result["forensic_database"]
    assert forensic.startswith(f"{learning_db.dbname}_forensic_")
    try:
        assert pg_server.query(learning_db.dbname, "SELECT count(*) FROM users WHERE email LIKE 'encrypted-%%'"
                               )[0][0] == 0
        assert table_counts(pg_server, learning_db.dbname, TABLES) == {"users": 250, "lessons": 40, "problems": 120}
        assert pg_server.query(forensic, "SELECT count(*) FROM users WHERE email LIKE 'encrypted-%%'")[0][0] == 250
        assert table_counts(pg_server, forensic, ["lessons"]) == {"lessons": 41}
    finally:
        pg_server.drop_database(forensic)


def test_replace_needs_the_name_typed_again(good_run):
    with pytest.raises(ConfigurationError, match="typed again"):
        replace.replace(good_run.artifacts.get(), confirm="something else")


def test_the_protected_database_is_never_a_new_database_target(good_run, learning_db):
    code, _, err = run_command("restore", str(good_run.pk), "--target-db", learning_db.dbname)
    assert code == 1 and "needs --replace" in err


def test_replace_from_the_command_line_needs_an_actor_who_may_do_it(good_run, learning_db, dba, admin_user):
    code, _, err = run_command("restore", str(good_run.pk), "--replace", "--force")
    assert code == 1 and "needs --actor USER" in err
    code, _, err = run_command("restore", str(good_run.pk), "--replace", "--force", "--actor", dba.username)
    assert code == 1 and f"--actor {dba.username} may not restore over a production database" in err
    code, _, err = run_command("restore", str(good_run.pk), "--replace", "--force", "--actor", "nobody-here")
    assert code == 1 and "no active Lifeboat user" in err
    assert not Restore.objects.filter(mode=Restore.Mode.REPLACE).exists()


@pytest.mark.parametrize("owned_by_a_role", [True, False], ids=["made-before-15", "made-by-15"])
def test_owner_gets_the_public_schema_the_source_gave_a_role(learning_db, pg_server, target_name, owned_by_a_role):
    """A database made before PostgreSQL 15 has its public schema owned by a role; --no-owner leaves the restored
    one to pg_database_owner: --owner hands it over too, and only then (a PostgreSQL 15 one stays the default)."""
    from psycopg import sql

    role = f"lbt_public_owner_{uuid.uuid4().hex[:8]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    name = target_name()
    try:
        if owned_by_a_role:
            with pg_server.connect(learning_db.dbname) as conn:
                conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
        run = pipeline.backup(learning_db)
        assert run.status == "succeeded", run.error

        code, result = run_json("restore", str(run.pk), "--target-db", name, "--owner", role)

        assert code == 0, result
        owner = pg_server.query(name, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'")
        assert owner == [(role if owned_by_a_role else "pg_database_owner",)]
    finally:
        pg_server.drop_database(name)
        pg_server.drop_database(learning_db.dbname)
        with pg_server.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
