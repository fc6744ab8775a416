"""A database with an unpopulated materialized view (Pagila, as published) backs up, verifies and restores.

Its row count is recorded as "unpopulated" rather than counted (count(*) on it is an error), and verification
checks that it is still unpopulated after the restore.
"""

from __future__ import annotations

from backups.engine import pipeline
from backups.engine.snapshot import UNPOPULATED
from backups.models import Database, Verification
from backups.proof.verification import verify_artifact

SCHEMA = """
CREATE TABLE film (id int PRIMARY KEY, title text);
INSERT INTO film SELECT g, 'film ' || g FROM generate_series(1, 30) g;
CREATE TABLE measurement (day date NOT NULL, v int) PARTITION BY RANGE (day);
CREATE TABLE measurement_2024 PARTITION OF measurement FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO measurement SELECT '2024-03-01'::date + g, g FROM generate_series(1, 12) g;
CREATE MATERIALIZED VIEW rental_by_category AS SELECT count(*) AS n FROM film WITH NO DATA;
CREATE MATERIALIZED VIEW film_titles AS SELECT title FROM film;
"""


def _database(pg_server, make_source_db) -> Database:
    name = make_source_db(SCHEMA, prefix="lbt_matview")
    return Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                   user=pg_server.target.user, dbname=name)


def test_unpopulated_matview_is_recorded_not_counted(db, backup_root, local_tier, pg_server, make_source_db,
                                                     client, dba):
    run = pipeline.backup(_database(pg_server, make_source_db))

    assert run.status == "succeeded", run.error
    assert run.row_counts == {
        "public.film": 30, "public.film_titles": 30, "public.measurement_2024": 12,
        "public.rental_by_category": UNPOPULATED,
    }
    client.force_login(dba)
    assert "<td>public.rental_by_category</td><td>unpopulated</td>" in client.get(run.get_absolute_url()).text


def test_verification_checks_it_stays_unpopulated(db, backup_root, local_tier, pg_server, make_source_db):
    run = pipeline.backup(_database(pg_server, make_source_db))
    assert run.status == "succeeded", run.error

    record = verify_artifact(run.artifacts.get())

    assert record.status == Verification.Status.PASSED, record.error
    assert record.table_counts["public.rental_by_category"] == {"expected": UNPOPULATED, "actual": UNPOPULATED}

    # Had the restore populated it (or lost it), the counts check says so.
    run.row_counts = {**run.row_counts, "public.rental_by_category": 1}
    run.save(update_fields=["row_counts"])
    again = verify_artifact(run.artifacts.get())
    assert again.status == Verification.Status.FAILED
    assert "public.rental_by_category (expected 1, found unpopulated)" in again.error
