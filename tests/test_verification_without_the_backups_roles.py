"""A backup whose policies name roles the verification server lacks is "not verifiable here", never "failed"
(found by the PostgreSQL regression database, issue 17).

Verification restores --no-owner --no-acl, but a policy's `TO role` is part of its definition: on a verification
server without that role (an isolated server, LIFEBOAT_VERIFY_DSN elsewhere than the source) pg_restore stops with
`role "..." does not exist`. That says nothing about the backup: it used to be recorded as a failed verification,
which fires a critical alert, freezes retention and makes the tier stale."""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql

from backups.engine import pipeline
from backups.models import Database, Verification
from backups.proof.verification import verify_artifact


@pytest.fixture
def role_only_on_the_source(pg_server):
    role = f"lbt_reader_{uuid.uuid4().hex[:10]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    yield role
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_policy_for_a_role_the_verification_server_lacks_is_not_verifiable_here(
        db, backup_root, local_tier, pg_server, make_source_db, role_only_on_the_source, verify_on_isolated_server):
    role = role_only_on_the_source
    name = make_source_db(f"""
        CREATE TABLE notes (id int PRIMARY KEY, owner text);
        INSERT INTO notes VALUES (1, 'a');
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY readers ON notes FOR SELECT TO "{role}" USING (true);
    """, prefix="lbt_policy_roles")
    try:
        database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                           user=pg_server.target.user, dbname=name)
        run = pipeline.backup(database)
        assert run.status == "succeeded", run.error

        record = verify_artifact(run.artifacts.get())

        assert record.status == Verification.Status.UNVERIFIABLE, (record.status, record.error)
        assert f'role "{role}" does not exist' in record.error
        assert "--with-globals" in record.error
        assert not any(c["ok"] is False for c in record.checks if c["name"] != "restorable_here"), record.checks
    finally:
        with pg_server.connect(name) as conn:  # the policy holds the role: dropped with the database
            conn.execute("DROP POLICY IF EXISTS readers ON notes")
