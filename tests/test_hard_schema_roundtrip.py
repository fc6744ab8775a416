"""The hard parts of real databases survive backup, verification and restore unchanged."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from backups.engine import pgtools, pipeline
from backups.proof.verification import verify_artifact
from backups.recovery import restore

HARD_SCHEMA = r"""
CREATE EXTENSION citext;
CREATE EXTENSION pgcrypto;
CREATE SCHEMA billing;
CREATE SCHEMA "Ünïcode Schema";
CREATE TYPE billing.plan AS ENUM ('free', 'pro', 'team');
CREATE DOMAIN billing.positive_cents AS bigint CHECK (VALUE > 0);
CREATE TABLE public.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email citext NOT NULL UNIQUE,
    password_hash text NOT NULL DEFAULT crypt('x', gen_salt('bf', 4)),
    tags text[] NOT NULL DEFAULT '{}',
    profile jsonb,
    avatar bytea,
    email_domain text GENERATED ALWAYS AS (split_part(email::text, '@', 2)) STORED
);
CREATE TABLE billing.invoices (
    id serial,
    user_id bigint REFERENCES public.users(id),
    plan billing.plan NOT NULL,
    amount billing.positive_cents NOT NULL,
    issued_on date NOT NULL,
    PRIMARY KEY (id, issued_on)
) PARTITION BY RANGE (issued_on);
CREATE TABLE billing.invoices_2025 PARTITION OF billing.invoices FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE billing.invoices_2026 PARTITION OF billing.invoices FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE "Ünïcode Schema"."Mixed Case ""Quoted"" Table" ("Ключ" int PRIMARY KEY, "value with space" text);
CREATE INDEX users_profile_gin ON public.users USING gin (profile);
CREATE VIEW billing.revenue AS SELECT plan, sum(amount) AS total FROM billing.invoices GROUP BY plan;
CREATE MATERIALIZED VIEW billing.revenue_snapshot AS SELECT * FROM billing.revenue;
CREATE FUNCTION billing.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.amount := NEW.amount; RETURN NEW; END $$;
CREATE TRIGGER invoices_touch BEFORE INSERT ON billing.invoices_2026 FOR EACH ROW EXECUTE FUNCTION billing.touch();
CREATE FUNCTION public.add_cents(a bigint, b bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE TABLE public.documents (id serial PRIMARY KEY, blob oid);

INSERT INTO public.users (email, tags, profile, avatar)
SELECT 'User' || g || '@Example.com', ARRAY['t' || g, 'common'], jsonb_build_object('n', g, 'nested', jsonb_build_array(g)),
       decode(md5(g::text), 'hex')
FROM generate_series(1, 300) g;
INSERT INTO billing.invoices (user_id, plan, amount, issued_on)
SELECT 1 + g % 300, (ARRAY['free','pro','team']::billing.plan[])[1 + g % 3], 100 + g, DATE '2025-06-01' + g
FROM generate_series(1, 400) g;
INSERT INTO "Ünïcode Schema"."Mixed Case ""Quoted"" Table" VALUES (1, 'ä'), (2, '日本語');
INSERT INTO public.documents (blob) SELECT lo_from_bytea(0, convert_to('large object ' || g, 'UTF8'))
FROM generate_series(1, 3) g;
SELECT setval('public.documents_id_seq', 500);
REFRESH MATERIALIZED VIEW billing.revenue_snapshot;
"""

FINGERPRINT_SQL = r"""
SELECT 'users', md5(string_agg(u::text, '|' ORDER BY u.id)) FROM public.users u
UNION ALL SELECT 'invoices', md5(string_agg(i::text, '|' ORDER BY i.id)) FROM billing.invoices i
UNION ALL SELECT 'quoted', md5(string_agg(q::text, '|' ORDER BY 1)) FROM "Ünïcode Schema"."Mixed Case ""Quoted"" Table" q
UNION ALL SELECT 'revenue_snapshot', md5(string_agg(r::text, '|' ORDER BY r.plan)) FROM billing.revenue_snapshot r
UNION ALL SELECT 'large_objects', md5(string_agg(encode(lo_get(blob), 'escape'), '|' ORDER BY id)) FROM public.documents
UNION ALL SELECT 'documents_seq', (SELECT last_value::text || is_called::text FROM public.documents_id_seq)
UNION ALL SELECT 'identity_seq', (SELECT last_value::text FROM public.users_id_seq)
UNION ALL SELECT 'add_cents', public.add_cents(2, 3)::text
"""


def schema_of(pg_server, dbname: str) -> str:
    """pg_dump --schema-only, without the lines that differ between any two dumps (comments, restrict keys), nor
    ownership: a restore loads as the restricted restore role, which then owns what it made."""
    t = pg_server.target
    out = subprocess.run([pgtools.pg_binary("pg_dump"), *t.cli_args(dbname=dbname), "--schema-only"],
                         check=True, capture_output=True, text=True, env=t.env()).stdout
    return "\n".join(line for line in out.splitlines()
                     if not line.startswith(("--", "\\restrict", "\\unrestrict")) and line.strip()
                     and not (line.startswith("ALTER ") and " OWNER TO " in line))


@pytest.mark.parametrize("partitioned_fk", [True, False], ids=["partitioned-fk-logged", "unlogged-load"])
def test_hard_schema_survives_backup_verify_and_restore(learning_db, pg_server, make_source_db, partitioned_fk):
    schema = HARD_SCHEMA if partitioned_fk else HARD_SCHEMA.replace("REFERENCES public.users(id)", "")
    source = make_source_db(schema, prefix="lbt_hard")
    learning_db.dbname = source
    learning_db.save()

    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    assert run.row_counts["billing.invoices_2025"] + run.row_counts["billing.invoices_2026"] == 400
    assert run.row_counts['Ünïcode Schema.Mixed Case "Quoted" Table'] == 2

    verification = verify_artifact(run.artifacts.get())
    assert verification.status == "passed", verification.error
    # A partitioned table holding a foreign key keeps the scratch tables logged; otherwise the rows load unlogged.
    restored = next(c for c in verification.checks if c["name"] == "restore")
    assert ("into unlogged tables" in restored["detail"]) is not partitioned_fk

    target = f"lbt_hard_restored_{uuid.uuid4().hex[:8]}"
    try:
        record = restore.restore(run.artifacts.get(), target)
        assert record.status == "succeeded", record.error
        assert schema_of(pg_server, target) == schema_of(pg_server, source)
        owners = pg_server.query(target, "SELECT DISTINCT relowner::regrole::text FROM pg_class c JOIN pg_namespace n "
                                         "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
                                         "'information_schema', 'pg_toast')")
        assert owners == [(record.restored_as,)]
        assert pg_server.query(target, FINGERPRINT_SQL) == pg_server.query(source, FINGERPRINT_SQL)
    finally:
        pg_server.drop_database(target)
