"""`manage.py setup_database_roles` creates the restricted restore role: idempotent, says what it did, corrects a
role that has too many rights, and lets a non-superuser Lifeboat login create databases owned by it."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from psycopg import sql

from backups.engine import pipeline
from backups.models import Database
from tests.conftest import drop_role_and_databases
from tests.helpers import run_command


@pytest.fixture
def role_names(pg_server):
    names: list[str] = []

    def make(prefix: str) -> str:
        names.append(f"{prefix}_{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield make
    for name in names:
        drop_role_and_databases(pg_server.target, name)


def attributes(pg_server, role: str) -> tuple:
    return pg_server.query("postgres", "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles "
                                       "WHERE rolname = %s", (role,))[0]


def test_creates_the_restore_role_then_finds_it_as_it_should_be(pg_server, role_names, settings, monkeypatch):
    role = role_names("lbt_restore_setup")
    settings.LIFEBOAT_RESTORE_ROLE = role
    settings.LIFEBOAT_RESTORE_PASSWORD_ENV = "LIFEBOAT_TEST_RESTORE_PASSWORD"
    monkeypatch.setenv("LIFEBOAT_TEST_RESTORE_PASSWORD", "s3cret-restore")
    dsn = pg_server.target.with_dbname("postgres").dsn

    code, out, err = run_command("setup_database_roles", "--dsn", dsn)
    assert code == 0, err
    assert f"created role {role}" in out and f"password of {role} set from LIFEBOAT_TEST_RESTORE_PASSWORD" in out
    assert attributes(pg_server, role) == (False, False, False, True)
    verifier = pg_server.query("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))[0][0]
    assert verifier.startswith("SCRAM-SHA-256$") and "s3cret" not in verifier

    code, out, _ = run_command("setup_database_roles", "--dsn", dsn)
    assert code == 0 and f"role {role} already as it should be" in out


def test_a_restore_role_with_too_many_rights_is_corrected_and_refused_until_then(pg_server, role_names, settings,
                                                                                learning_db, local_tier):
    role = role_names("lbt_restore_super")
    settings.LIFEBOAT_RESTORE_ROLE = role
    pg_server.query("postgres", f"CREATE ROLE {role} LOGIN SUPERUSER CREATEROLE")
    run = pipeline.backup(learning_db)
    target = f"lbt_refused_{uuid.uuid4().hex[:8]}"
    code, _, err = run_command("restore", str(run.pk), "--target-db", target)
    assert code == 1 and f"the restore role {role}" in err and "is superuser" in err

    code, out, _ = run_command("setup_database_roles", "--dsn", pg_server.target.dsn)
    assert code == 0 and f"role {role} corrected: NOSUPERUSER NOCREATEROLE" in out
    assert attributes(pg_server, role) == (False, False, False, True)


def test_a_non_superuser_lifeboat_login_is_made_a_member_so_it_can_create_databases_for_the_role(
        pg_server, role_names, settings, make_source_db, local_tier):
    restore_role, login = role_names("lbt_restore_member"), role_names("lbt_login")
    settings.LIFEBOAT_RESTORE_ROLE = restore_role
    pg_server.query("postgres", sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(login)).as_string())
    as_login = replace(pg_server.target, user=login, dbname="postgres")
    name = make_source_db("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)")
    pg_server.query("postgres", f'ALTER DATABASE "{name}" OWNER TO {login}')
    pg_server.query(name, f"ALTER TABLE t OWNER TO {login}")
    Database.objects.create(name=name, host=as_login.host, port=as_login.port, user=login, dbname=name)

    code, _, err = run_command("setup_database_roles")  # every protected database's server, as its login
    assert code == 1 and f"{login} may not create roles" in err and f"--grant-to {login}" in err

    code, out, err = run_command("setup_database_roles", "--dsn", pg_server.target.dsn, "--grant-to", login)
    assert code == 0, err
    assert f"granted {restore_role} to {login}" in out

    run = pipeline.backup(Database.objects.get(name=name))
    copy = f"lbt_member_copy_{uuid.uuid4().hex[:8]}"
    code, _, err = run_command("restore", str(run.pk), "--target-db", copy, "--owner", login)
    try:
        assert code == 0, err
        assert pg_server.query(copy, "SELECT count(*), (SELECT datdba::regrole::text FROM pg_database WHERE "
                                     "datname = current_database()) FROM t") == [(2, login)]
    finally:
        pg_server.drop_database(copy)


def test_a_superuser_restore_is_refused_on_a_server_holding_protected_databases(learning_db, local_tier):
    run = pipeline.backup(learning_db)
    code, _, err = run_command("restore", str(run.pk), "--target-db", "lbt_never_made", "--as-superuser")
    assert code == 1 and "a superuser restore" in err and "it also holds protected databases" in err


def test_the_restored_objects_are_never_handed_to_a_superuser(learning_db, local_tier, pg_server):
    run = pipeline.backup(learning_db)
    code, _, err = run_command("restore", str(run.pk), "--target-db", "lbt_never_made", "--owner",
                               pg_server.target.user)
    assert code == 1 and "it is superuser" in err
    assert not pg_server.database_exists("lbt_never_made")


def test_without_the_restore_role_a_verification_is_not_verifiable_here_not_failed(learning_db, local_tier,
                                                                                  tasks_inline, settings):
    settings.LIFEBOAT_RESTORE_ROLE = f"lbt_missing_{uuid.uuid4().hex[:8]}"
    checked = pipeline.backup(learning_db).artifacts.get().verifications.get()
    assert checked.status == "unverifiable"
    assert "does not exist" in checked.error and "setup_database_roles --dsn" in checked.error
