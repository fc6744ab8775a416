"""A table restore succeeds when pg_restore has all it needs before the end of the archive (found by the
PostgreSQL regression database, issue 17).

pg_restore reads the archive from its stdin; with a --use-list that picks an early table it exits 0 once that
table's rows are in and reads no further, so Lifeboat's write into its stdin breaks. That was reported as a
failure ("pg_restore exited with status 0: no message") and most table restores of a large database failed. The
rest of the artifact is still read (not fed) so its SHA-256 is checked against the record, as for a full restore."""

from __future__ import annotations

import uuid

import pytest

from backups.engine import pipeline
from backups.models import Database
from tests.helpers import run_json

# `early` is dumped first; `bulk` follows with rows that do not compress away (several MB of md5 text), far more
# than a pipe holds, so pg_restore is done long before Lifeboat has written the archive.
SCHEMA = """
CREATE TABLE early (id int PRIMARY KEY, note text);
INSERT INTO early SELECT g, 'row ' || g FROM generate_series(1, 5) g;
CREATE TABLE later_bulk (id int PRIMARY KEY, noise text);
INSERT INTO later_bulk SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 100000) g;
"""


@pytest.fixture
def recovery_db(pg_server):
    name = f"lbt_recovery_{uuid.uuid4().hex[:8]}"
    yield name
    pg_server.drop_database(name)


def test_a_table_restore_that_needs_only_the_start_of_the_archive_succeeds(db, pg_server, make_source_db,
                                                                            backup_root, recovery_db):
    name = make_source_db(SCHEMA, prefix="lbt_early_table")
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    assert run.artifacts.get().size_bytes > 1_000_000  # much more than a pipe's buffer after the early table

    code, result = run_json("restore", str(run.pk), "--target-db", recovery_db, "--table", "public.early")

    assert code == 0 and result["status"] == "succeeded", result
    assert pg_server.query(recovery_db, "SELECT count(*), max(note) FROM early") == [(5, "row 5")]
    assert pg_server.query(recovery_db, "SELECT to_regclass('public.later_bulk')") == [(None,)]
