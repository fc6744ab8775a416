"""restore --replace as named, recorded steps: a failure at any step leaves production connectable, under its name,
with its data, and no incoming database behind.

Lifeboat logs in as production's owner (not superuser, with CREATEDB and pg_signal_backend), as the issue found it.
Each fault is real: a corrupt artifact, production's ownership taken away, a superuser session Lifeboat cannot end,
the forensic name already taken, a superuser session holding the incoming database, the forensic copy's ownership
taken away. The fault hook only chooses the moment.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from backups.engine import pipeline
from backups.models import Database, Restore
from backups.recovery import replace as replace_module
from tests.conftest import drop_role_and_databases


@pytest.fixture
def owner_login(pg_server, restore_role_name):
    """A non-superuser login owning production, as a DBA would give Lifeboat; dropped with what it owns."""
    role = f"lbt_owner_{uuid.uuid4().hex[:10]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT pg_signal_backend, {} TO {}").format(sql.Identifier(restore_role_name),
                                                                         sql.Identifier(role)))
    yield role
    drop_role_and_databases(pg_server.target, role)


@pytest.fixture
def production(pg_server, owner_login, local_tier):
    """(Database, good run): production owned by the login, backed up, then written to after the backup."""
    name = f"lbt_prod_{uuid.uuid4().hex[:10]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner_login)))
    as_owner = replace(pg_server.target, user=owner_login, dbname=name)
    with as_owner.connect() as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT g, 'before' FROM generate_series(1, 5) g")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=owner_login, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    with as_owner.connect() as conn:
        conn.execute("INSERT INTO orders VALUES (6, 'after the backup')")
    yield database, run
    pg_server.drop_database(name)


def assert_production_as_it_was(pg_server, database: Database, record: Restore) -> None:
    name = database.dbname
    allowed = pg_server.query("postgres", "SELECT datallowconn FROM pg_database WHERE datname = %s", (name,))
    assert allowed == [(True,)], record.steps
    as_owner = replace(pg_server.target, user=database.user, dbname=name)
    with as_owner.connect() as conn:  # connectable, by the application's login
        assert conn.execute("SELECT count(*), max(note) FROM orders WHERE id = 6").fetchone() == (1, "after the backup")
    leftovers = pg_server.query("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                                (f"{name}\\_%",))
    assert leftovers == [], leftovers
    assert record.status == "failed" and record.forensic_database == ""
    assert record.production_state.startswith(f"{name} present, connections allowed")


def superuser_session(pg_server, dbname: str) -> psycopg.Connection:
    return pg_server.connect(dbname)


def run_with_fault(monkeypatch, run, hooks: dict) -> Restore:
    def hook(event: str, plan) -> None:
        if event in hooks:
            hooks[event](plan)

    monkeypatch.setattr(replace_module, "fault_hook", hook)
    return replace_module.replace(run.artifacts.get(), confirm=run.database.dbname)


def failed_step(record: Restore) -> str:
    return next(step["name"] for step in record.steps if step["status"] == "failed")


def test_replace_as_the_owner_succeeds_and_hands_the_restored_database_to_the_owner(pg_server, production):
    database, run = production
    record = replace_module.replace(run.artifacts.get(), confirm=database.dbname)
    forensic = record.forensic_database
    try:
        assert record.status == "succeeded", (record.error, record.steps)
        assert [s["name"] for s in record.steps] == ["check_rights", *[name for name, *_ in replace_module.STEPS]]
        owners = pg_server.query(database.dbname, "SELECT d.datdba::regrole::text, c.relowner::regrole::text "
                                                  "FROM pg_database d, pg_class c WHERE d.datname = current_database() "
                                                  "AND c.relname = 'orders'")
        assert owners == [(database.user, database.user)]
        assert pg_server.query(database.dbname, "SELECT count(*) FROM orders")[0][0] == 5
        assert pg_server.query(forensic, "SELECT count(*) FROM orders")[0][0] == 6
    finally:
        pg_server.drop_database(forensic)


def test_a_session_it_cannot_end_refuses_the_replace_before_production_is_touched(pg_server, production):
    database, run = production
    blocker = superuser_session(pg_server, database.dbname)
    try:
        record = replace_module.replace(run.artifacts.get(), confirm=database.dbname)
    finally:
        blocker.close()
    assert "refused before touching production" in record.error
    assert f"the right to end the sessions of {pg_server.target.user}" in record.error
    assert [(s["name"], s["status"]) for s in record.steps] == [("check_rights", "failed")]
    assert_production_as_it_was(pg_server, database, record)


def test_fault_restoring_the_incoming_database(pg_server, production, monkeypatch):
    database, run = production

    def corrupt(plan) -> None:
        path = plan.artifact.location
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))

    record = run_with_fault(monkeypatch, run, {"before:restore_incoming": corrupt})
    assert failed_step(record) == "restore_incoming"
    assert_production_as_it_was(pg_server, database, record)


def test_fault_refusing_connections(pg_server, production, monkeypatch):
    database, run = production

    def take_ownership(plan) -> None:  # ALTER DATABASE ... ALLOW_CONNECTIONS now says "must be owner"
        pg_server.query("postgres", f'ALTER DATABASE "{plan.production}" OWNER TO {pg_server.target.user}')

    try:
        record = run_with_fault(monkeypatch, run, {"before:refuse_connections": take_ownership})
    finally:
        pg_server.query("postgres", f'ALTER DATABASE "{database.dbname}" OWNER TO "{database.user}"')
    assert failed_step(record) == "refuse_connections"
    assert_production_as_it_was(pg_server, database, record)


def test_fault_terminating_a_superuser_session(pg_server, production, monkeypatch):
    """The issue's case: the owner cannot end a superuser's session, found only after connections were refused."""
    database, run = production
    sessions: list[psycopg.Connection] = []
    try:
        record = run_with_fault(monkeypatch, run, {
            "before:refuse_connections": lambda plan: sessions.append(superuser_session(pg_server, plan.production)),
        })
    finally:
        for session in sessions:
            session.close()
    assert failed_step(record) == "terminate_sessions"
    assert "undo_refuse_connections" in [s["name"] for s in record.steps if s["status"] == "done"]
    assert_production_as_it_was(pg_server, database, record)


def test_fault_renaming_production_to_forensic(pg_server, production, monkeypatch):
    database, run = production
    taken: list[str] = []

    def take_the_forensic_name(plan) -> None:
        pg_server.query("postgres", f'CREATE DATABASE "{plan.forensic}"')
        taken.append(plan.forensic)

    try:
        record = run_with_fault(monkeypatch, run, {"before:rename_production_to_forensic": take_the_forensic_name})
        assert failed_step(record) == "rename_production_to_forensic"
    finally:
        for name in taken:
            pg_server.drop_database(name)
    assert_production_as_it_was(pg_server, database, record)


def test_fault_renaming_the_incoming_database_into_place(pg_server, production, monkeypatch):
    """A session the owner cannot end holds the incoming database (as autovacuum might, briefly): the bounded
    retries give up, the forensic copy gets production's name back."""
    database, run = production
    sessions: list[psycopg.Connection] = []

    def hold_incoming(plan) -> None:
        sessions.append(superuser_session(pg_server, plan.incoming))

    def release(plan) -> None:
        while sessions:
            sessions.pop().close()

    try:
        record = run_with_fault(monkeypatch, run, {"before:rename_incoming_into_place": hold_incoming,
                                                   "before:undo_restore_incoming": release})
    finally:
        release(None)
    assert failed_step(record) == "rename_incoming_into_place"
    assert "undo_rename_production_to_forensic" in [s["name"] for s in record.steps if s["status"] == "done"]
    assert_production_as_it_was(pg_server, database, record)


def test_fault_allowing_connections_to_the_forensic_copy(pg_server, production, monkeypatch):
    database, run = production

    def take_forensic(plan) -> None:
        pg_server.query("postgres", f'ALTER DATABASE "{plan.forensic}" OWNER TO {pg_server.target.user}')

    def give_back(plan) -> None:  # lifted before the undo renames it back
        pg_server.query("postgres", f'ALTER DATABASE "{plan.forensic}" OWNER TO "{database.user}"')

    record = run_with_fault(monkeypatch, run, {"before:allow_connections": take_forensic,
                                               "before:undo_rename_production_to_forensic": give_back})
    assert failed_step(record) == "allow_connections"
    assert_production_as_it_was(pg_server, database, record)
