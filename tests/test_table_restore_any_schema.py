"""Table restores (the accidental-deletion scenario) on ordinary schemas: a table outside public, one whose
definition needs an extension's type and function, an enum, a domain and an owned sequence, and a table whose
name has a space and a non-ASCII letter. Only the chosen tables' rows come back; their definitions' needs come too.
"""

from __future__ import annotations

import uuid

import pytest

from backups.engine import pipeline
from backups.engine.archive_toc import read_artifact_toc
from backups.models import Database
from backups.recovery.table_selection import parse_table_name, select_tables
from tests.helpers import run_json

SCHEMA = """
CREATE EXTENSION citext;
CREATE EXTENSION pgcrypto;
CREATE SCHEMA billing;
CREATE TYPE billing.invoice_status AS ENUM ('open', 'paid', 'void');
CREATE DOMAIN billing.email AS citext CHECK (VALUE ~ '@');
CREATE TABLE billing.invoices (
    id serial PRIMARY KEY,
    email billing.email NOT NULL,
    status billing.invoice_status NOT NULL DEFAULT 'open',
    salt text NOT NULL DEFAULT gen_salt('bf')
);
CREATE SCHEMA "Course Content";
CREATE TABLE "Course Content"."Lessons ü" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "Title ä" text);
CREATE TABLE billing.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE billing.events_2025 PARTITION OF billing.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE billing.events_2026 PARTITION OF billing.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO billing.events SELECT g, DATE '2025-06-01' + g * 30 FROM generate_series(1, 10) g;
CREATE TABLE public.payments (id int PRIMARY KEY, invoice_id int REFERENCES billing.invoices (id), amount numeric);
INSERT INTO billing.invoices (email, status) SELECT 'Payer' || g || '@Example.com',
    (ARRAY['open', 'paid', 'void'])[1 + g % 3]::billing.invoice_status FROM generate_series(1, 30) g;
INSERT INTO "Course Content"."Lessons ü" ("Title ä") SELECT 'Lektion ' || g FROM generate_series(1, 12) g;
INSERT INTO public.payments SELECT g, g, g * 10 FROM generate_series(1, 30) g;
"""
LESSONS = '"Course Content"."Lessons ü"'


@pytest.fixture
def shop_run(db, pg_server, make_source_db, backup_root):
    name = make_source_db(SCHEMA, prefix="lbt_shop")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def recovery_db(pg_server):
    name = f"lbt_recovery_{uuid.uuid4().hex[:8]}"
    yield name
    pg_server.drop_database(name)


def test_tables_outside_public_with_extension_types_enum_domain_and_sequences(shop_run, pg_server, recovery_db):
    code, result = run_json("restore", str(shop_run.pk), "--target-db", recovery_db,
                            "--table", "billing.invoices", "--table", LESSONS)

    assert code == 0, result
    assert result["tables"] == ["billing.invoices", LESSONS]
    rows = pg_server.query(recovery_db, "SELECT count(*), count(DISTINCT salt), min(email::text) FROM billing.invoices")
    assert rows == [(30, 30, "Payer10@Example.com")]
    assert pg_server.query(recovery_db, f'SELECT count(*) FROM {LESSONS}') == [(12,)]
    # Only the chosen tables: payments (which references invoices) stays out, and so does its foreign key.
    assert pg_server.query(recovery_db, "SELECT to_regclass('public.payments')") == [(None,)]
    # The definitions work: the domain over citext checks and compares case-blind, the enum, gen_salt's default,
    # and both owned sequences continue after the restored rows.
    with pg_server.connect(recovery_db) as conn:
        new = conn.execute("INSERT INTO billing.invoices (email) VALUES ('new@x') "
                           "RETURNING id, status, salt").fetchone()
        assert new[0] == 31 and new[1] == "open" and new[2].startswith("$2a$")
        same = conn.execute("SELECT count(*) FROM billing.invoices WHERE email = 'PAYER1@EXAMPLE.COM'").fetchone()
        assert same == (1,)
        lesson = conn.execute(f'INSERT INTO {LESSONS} ("Title ä") VALUES (\'neu\') RETURNING id').fetchone()
        assert lesson == (13,)
        with pytest.raises(Exception, match="violates check constraint"):
            conn.execute("INSERT INTO billing.invoices (email) VALUES ('no-at-sign')")


def test_a_partitioned_table_comes_back_with_its_partitions_rows(shop_run, pg_server, recovery_db):
    code, result = run_json("restore", str(shop_run.pk), "--target-db", recovery_db, "--table", "billing.events")

    assert code == 0, result
    assert pg_server.query(recovery_db, "SELECT count(*) FROM billing.events") == [(10,)]
    assert pg_server.query(recovery_db, "SELECT count(*) FROM billing.events_2026") == [(3,)]


def test_deleted_rows_of_a_quoted_table_with_an_identity_column_come_back(shop_run, pg_server, dba):
    name = shop_run.database.dbname
    with pg_server.connect(name) as conn:
        conn.execute(f'DELETE FROM {LESSONS} WHERE id > 8')

    code, result = run_json("recover_rows", str(shop_run.pk), "--table", LESSONS, "--actor", dba.username)

    assert code == 0, result
    assert [(t["table"], t["missing"], t["inserted"]) for t in result["tables"]] == [(LESSONS, 4, 4)]
    assert pg_server.query(name, f'SELECT max(id), count(*) FROM {LESSONS}') == [(12, 12)]


def test_table_names_are_read_as_postgresql_reads_them(shop_run):
    toc = read_artifact_toc(shop_run.artifacts.get())
    by_id = toc.by_id()
    chosen = select_tables(toc, [parse_table_name(LESSONS)])
    picked = {(by_id[i].desc, by_id[i].schema, by_id[i].tag) for i in chosen.dump_ids}

    assert ("TABLE DATA", "Course Content", "Lessons ü") in picked
    assert ("SCHEMA", "", "Course Content") in picked
    assert not any(tag == "invoices" for _, _, tag in picked)
    assert parse_table_name("Billing.Invoices") == parse_table_name("billing.invoices")


def test_an_unknown_table_is_refused_before_anything_is_created(shop_run, pg_server, recovery_db):
    code, result = run_json("restore", str(shop_run.pk), "--target-db", recovery_db, "--table", '"Billing".invoices')

    assert code == 1 and 'table "Billing".invoices is not in this backup' in result["error"]
    assert not pg_server.database_exists(recovery_db)
