"""Each run records the source application's newest migration, read inside the dump's snapshot, and shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backups.engine import pipeline
from backups.engine.snapshot import SnapshotSession

DJANGO = """
CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL,
                                applied timestamptz NOT NULL);
INSERT INTO django_migrations (app, name, applied) VALUES
  ('contenttypes', '0001_initial', '2026-01-01 10:00+00'),
  ('lessons', '0041_add_tags', '2026-03-01 10:00+00'),
  ('lessons', '0042_add_difficulty', '2026-03-02 10:00+00'),
  ('auth', '0012_alter_user_first_name_max_length', '2026-02-01 10:00+00');
CREATE TABLE lessons (id serial PRIMARY KEY, title text);
INSERT INTO lessons (title) VALUES ('a'), ('b');
"""

OTHERS = {
    "prisma": ("""
CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, migration_name varchar(255) NOT NULL,
  finished_at timestamptz, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now());
INSERT INTO _prisma_migrations VALUES
  ('1', '20260101000000_init', '2026-01-01', NULL, '2026-01-01'),
  ('2', '20260301000000_add_orders', '2026-03-01', NULL, '2026-03-01'),
  ('3', '20260401000000_rolled_back', '2026-04-01', '2026-04-02', '2026-04-01'),
  ('4', '20260501000000_failed', NULL, NULL, '2026-05-01');
""", "_prisma_migrations: 20260301000000_add_orders"),
    "rails": ("""
CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('20250101120000'), ('20260315093000'), ('20251231235959');
""", "schema_migrations: 20260315093000"),
    "alembic": ("""
CREATE SCHEMA app;
CREATE TABLE app.alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO app.alembic_version VALUES ('4f2e1c9ab7d3');
""", "alembic_version: 4f2e1c9ab7d3"),
}


def session_for(pg_server, dbname: str) -> SnapshotSession:
    return SnapshotSession(pg_server.target.with_dbname(dbname))


@pytest.mark.parametrize("kind", sorted(OTHERS))
def test_prisma_rails_and_alembic_versions_are_detected(kind, pg_server, make_source_db):
    script, expected = OTHERS[kind]
    dbname = make_source_db(script, prefix=f"lbt_{kind}")
    with session_for(pg_server, dbname) as session:
        assert session.app_schema_version() == expected


def test_no_migrations_table_means_no_version(pg_server, make_source_db):
    dbname = make_source_db("CREATE TABLE t (id int)")
    with session_for(pg_server, dbname) as session:
        assert session.app_schema_version() == ""


def test_the_version_is_the_snapshots_not_a_migration_applied_during_the_dump(pg_server, make_source_db):
    dbname = make_source_db(DJANGO, prefix="lbt_django")
    with session_for(pg_server, dbname) as session:
        with pg_server.connect(dbname) as other:
            other.execute("INSERT INTO django_migrations (app, name, applied) "
                          "VALUES ('lessons', '0043_during_the_dump', now())")
        assert session.app_schema_version() == "django_migrations: lessons.0042_add_difficulty"
    with session_for(pg_server, dbname) as later:
        assert later.app_schema_version() == "django_migrations: lessons.0043_during_the_dump"


@pytest.fixture
def django_source(db, pg_server, make_source_db, backup_root):
    from backups.models import Database

    dbname = make_source_db(DJANGO, prefix="lbt_django")
    t = pg_server.target
    return Database.objects.create(name=dbname, host=t.host, port=t.port, user=t.user, dbname=dbname)


def test_each_run_records_the_newest_django_migration_and_its_manifest_carries_it(django_source, pg_server):
    first = pipeline.backup(django_source)
    with pg_server.connect(django_source.dbname) as conn:
        conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('lessons', '0043_next', now())")
    second = pipeline.backup(django_source)

    assert first.app_schema_version == "django_migrations: lessons.0042_add_difficulty"
    assert second.app_schema_version == "django_migrations: lessons.0043_next"
    manifest = json.loads(Path(second.artifacts.get().manifest_location).read_text())
    assert manifest["app_schema_version"] == "django_migrations: lessons.0043_next"


def test_the_run_page_shows_the_application_schema(django_source, client, dba):
    run = pipeline.backup(django_source)
    client.force_login(dba)

    page = client.get(run.get_absolute_url()).content.decode()

    assert "Application schema" in page and "lessons.0042_add_difficulty" in page
    assert str(run.backup_uuid) in page

