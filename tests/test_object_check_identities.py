"""The object check compares the archive's table of contents with the restored database by the identities
pg_dump itself gives every object: every kind, no truncation, domain-typed and window functions included."""

from __future__ import annotations

import struct

import pytest

from backups.engine import pipeline
from backups.models import Database, Verification
from backups.proof import objects
from backups.proof.verification import verify_artifact
from tests.helpers import stock_restore

LONG = "a_function_whose_long_name_and_signature_pass_63_bytes"
SCHEMA = f"""
CREATE EXTENSION citext;
CREATE DOMAIN pos_int AS int CHECK (VALUE > 0);
CREATE FUNCTION takes_domain(p pos_int) RETURNS int LANGUAGE sql AS 'SELECT p + 1';
CREATE FUNCTION {LONG}(first_argument timestamp with time zone, second_argument character varying)
  RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION my_row_number() RETURNS bigint WINDOW LANGUAGE internal AS 'window_row_number';
CREATE PROCEDURE do_nothing(n int) LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int, initcond = '0');
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE FUNCTION pair_eq(pair, pair) RETURNS boolean LANGUAGE sql AS 'SELECT $1.a = $2.a';
CREATE OPERATOR === (leftarg = pair, rightarg = pair, function = pair_eq);
CREATE SCHEMA "Course Content";
CREATE TABLE "Course Content"."Lessons ü" (id serial PRIMARY KEY, title citext NOT NULL, level pos_int,
  feeling mood, CONSTRAINT "a unique constraint with a long name, the table's is added" UNIQUE (title, level));
INSERT INTO "Course Content"."Lessons ü" (title, level) VALUES ('one', 1), ('two', 2);
CREATE INDEX "Lessons ü by title" ON "Course Content"."Lessons ü" (title);
CREATE VIEW "Course Content"."all lessons" AS SELECT * FROM "Course Content"."Lessons ü";
CREATE MATERIALIZED VIEW lesson_titles AS SELECT title FROM "Course Content"."Lessons ü";
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER "touch lessons" BEFORE UPDATE ON "Course Content"."Lessons ü" FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE audit_log (id int);
CREATE RULE no_delete AS ON DELETE TO audit_log DO INSTEAD NOTHING;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY "only mine" ON audit_log USING (id > 0);
CREATE PUBLICATION lessons_pub FOR TABLE audit_log;
CREATE STATISTICS lesson_stats (dependencies) ON id, level FROM "Course Content"."Lessons ü";
SELECT lo_from_bytea(0, 'a large object');
COMMENT ON FUNCTION takes_domain(pos_int) IS 'takes a domain';
"""

KINDS = {"TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "INDEX", "CONSTRAINT", "TRIGGER",
         "RULE", "POLICY", "FUNCTION", "PROCEDURE", "AGGREGATE", "TYPE", "DOMAIN", "OPERATOR", "PUBLICATION",
         "STATISTICS", "BLOB", "EXTENSION", "SCHEMA", "COMMENT"}


@pytest.fixture
def varied_run(db, backup_root, local_tier, pg_server, make_source_db):
    name = make_source_db(SCHEMA, prefix="lbt_objects")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    return run


def _archive_toc(run) -> objects.Toc:
    import zstandard

    with open(run.artifacts.get().location, "rb") as f:
        return objects.read_toc(zstandard.ZstdDecompressor().stream_reader(f))


def test_every_kind_the_archive_lists_is_read_by_its_full_identity(varied_run):
    toc = _archive_toc(varied_run)
    kinds = {e.desc for e in toc.entries}
    assert KINDS <= kinds
    identities = {str(e) for e in toc.entries}
    assert "FUNCTION public takes_domain(public.pos_int)" in identities
    assert f"FUNCTION public {LONG}(timestamp with time zone, character varying)" in identities
    assert "CONSTRAINT Course Content Lessons ü a unique constraint with a long name, the table's is added" \
        in identities
    index = next(e for e in toc.entries if e.identity == ("INDEX", "Course Content", "Lessons ü by title"))
    assert index.section == objects.POST_DATA


def test_a_varied_database_verifies_with_every_object_found(varied_run, verify_on_isolated_server):
    # Its window function is LANGUAGE internal: only a superuser creates it, so it is proven on an isolated server.
    record = verify_artifact(varied_run.artifacts.get())

    assert record.status == Verification.Status.PASSED, record.error
    check = next(c for c in record.checks if c["name"] == "objects")
    assert check["ok"] is True and "all present" in check["detail"], check["detail"]


def test_an_object_missing_after_restore_is_named(varied_run, pg_server, make_source_db):
    restored = make_source_db(prefix="lbt_objects_restored")
    stock_restore(varied_run.artifacts.get().location, pg_server, restored)
    with pg_server.connect(restored) as conn:
        conn.execute("DROP FUNCTION my_row_number()")
        conn.execute(f"DROP FUNCTION {LONG}")
        conn.execute("DROP POLICY \"only mine\" ON audit_log")

    result = objects.compare(_archive_toc(varied_run), pg_server.target.with_dbname(restored))

    assert sorted(result.missing) == sorted([
        "FUNCTION public my_row_number()", "POLICY public audit_log only mine",
        f"FUNCTION public {LONG}(timestamp with time zone, character varying)"])
    assert not result.ok


def test_entries_that_cannot_be_compared_are_reported_not_passed(varied_run, pg_server, verify_on_isolated_server):
    def entry(dump_id, desc, schema, tag, section):
        return objects.TocEntry(dump_id, desc, schema, tag, owner="", defn="", section=section)

    toc = objects.Toc((1, 14, 0), "shop", "15.20", "15.20", entries=(
        entry(1, "TABLE", "public", "users", objects.PRE_DATA),
        entry(2, "ACL", "public", "TABLE users", objects.NONE),
        entry(3, "DATABASE", "", "shop", objects.PRE_DATA),
        entry(4, "TABLE DATA", "public", "users", objects.DATA),
    ))
    compared, not_compared = objects.split(toc)
    assert [str(e) for e in compared] == ["TABLE public users"]
    assert not_compared == {"ACL": 1}  # the DATABASE entry is the database properties check's

    with pg_server.connect(varied_run.database.dbname) as conn:
        conn.execute("REVOKE ALL ON audit_log FROM PUBLIC; GRANT SELECT ON audit_log TO PUBLIC")
    run = pipeline.backup(varied_run.database)
    record = verify_artifact(run.artifacts.get())
    checks = {c["name"]: c for c in record.checks}
    assert record.status == Verification.Status.PASSED, record.error
    assert checks["objects_not_compared"]["ok"] is None
    assert "1 × privileges (the scratch restore runs --no-acl)" in checks["objects_not_compared"]["detail"]


def test_an_archive_that_is_not_one_is_refused_clearly():
    import io

    with pytest.raises(objects.TocUnreadable):
        objects.read_toc(io.BytesIO(b"PGDMX" + struct.pack("BBB", 1, 14, 0)))


MORE_KINDS = """
CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, doubled int GENERATED ALWAYS AS (id * 2) STORED);
CREATE TABLE events (day date NOT NULL, id int, PRIMARY KEY (day, id)) PARTITION BY RANGE (day);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_id ON events (id);
CREATE TABLE parent_t (id int); CREATE TABLE child_t (extra text) INHERITS (parent_t);
CREATE UNLOGGED TABLE scratchpad (v text);
CREATE COLLATION german (provider = icu, locale = 'de-DE');
CREATE TEXT SEARCH CONFIGURATION my_english (COPY = english);
CREATE FOREIGN DATA WRAPPER dummy_fdw; CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE remote_thing (id int) SERVER dummy_server;
CREATE FUNCTION int_to_text_cast(int) RETURNS text LANGUAGE sql AS 'SELECT $1::text';
CREATE TYPE wrapped AS (v int);
CREATE FUNCTION wrapped_of(int) RETURNS wrapped LANGUAGE sql AS 'SELECT ROW($1)::wrapped';
CREATE CAST (int AS wrapped) WITH FUNCTION wrapped_of(int);
CREATE OPERATOR FAMILY my_family USING btree;
CREATE FUNCTION ev_log() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE EVENT TRIGGER ev_start ON ddl_command_start EXECUTE FUNCTION ev_log();
CREATE PUBLICATION everything FOR ALL TABLES;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;
COMMENT ON COLUMN ident.doubled IS 'twice the id';
CREATE SEQUENCE "a sequence with spaces";
CREATE VIEW v_recursive AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r;
"""


def test_less_common_kinds_verify_too(db, backup_root, local_tier, pg_server, make_source_db, client, dba,
                                     verify_on_isolated_server):
    # FDWs and event triggers are superuser-only: proven on an isolated verification server.
    name = make_source_db(MORE_KINDS, prefix="lbt_objects_more")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error

    record = verify_artifact(run.artifacts.get())

    checks = {c["name"]: c for c in record.checks}
    assert record.status == Verification.Status.PASSED, record.error
    assert checks["objects"]["ok"] is True, checks["objects"]["detail"]
    assert checks["objects_not_compared"]["ok"] is None
    assert "1 × default privileges (the scratch restore runs --no-acl)" in checks["objects_not_compared"]["detail"]
    client.force_login(dba)
    page = client.get(run.get_absolute_url()).text
    assert '<tr class="check-unverifiable"><td>objects_not_compared</td><td>not verifiable</td>' in page


def test_a_public_schema_owned_as_before_postgresql_15_verifies(db, backup_root, local_tier, pg_server,
                                                                make_source_db):
    """A database made by PostgreSQL 14 or older (or pg_upgrade'd from one; Pagila as published) has its public
    schema owned by a role, not pg_database_owner, so pg_dump lists `SCHEMA public`. The scratch restore runs
    --no-owner and its public schema keeps the default owner, which pg_dump does not list: still present."""
    name = make_source_db("ALTER SCHEMA public OWNER TO CURRENT_USER; CREATE TABLE t (id int);",
                          prefix="lbt_objects_public")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    assert ("SCHEMA", "", "public") in {e.identity for e in _archive_toc(run).entries}

    record = verify_artifact(run.artifacts.get())

    checks = {c["name"]: c for c in record.checks}
    assert record.status == Verification.Status.PASSED, record.error
    assert checks["objects"]["ok"] is True, checks["objects"]["detail"]

    # A restore without its public schema (nor, so, its table) still misses it.
    restored = make_source_db(prefix="lbt_objects_public_restored")
    stock_restore(run.artifacts.get().location, pg_server, restored)
    with pg_server.connect(restored) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
    assert objects.compare(_archive_toc(run), pg_server.target.with_dbname(restored)).missing == [
        "SCHEMA public", "TABLE public t"]
