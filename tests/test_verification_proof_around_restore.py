"""The proof around a verification's restore stays small: one pg_dump of the restored database serves both the
object check and the database properties check (each still fails on its own), the counts and ANALYZE run beside
it, and the scratch database is dropped beside recording the outcome, always before verify_artifact returns."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from backups.engine import pipeline
from backups.models import Verification
from backups.proof import verification
from backups.proof.verification import SCRATCH_PREFIX, verify_artifact


@pytest.fixture
def good_run(learning_db):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    return run


def scratch_databases(pg_server) -> list[str]:
    return [r[0] for r in pg_server.query("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                                          (SCRATCH_PREFIX + "%",))]


def checks_by_name(record: Verification) -> dict[str, bool | None]:
    return {c["name"]: c["ok"] for c in record.checks}


@pytest.fixture
def programs_started(monkeypatch) -> Counter:
    """The client programs every subprocess.run / Popen starts, by name."""
    started: Counter = Counter()
    real = subprocess.Popen

    class Counting(real):
        def __init__(self, args, *rest, **kwargs):
            started[Path(args[0]).name] += 1
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Counting)
    return started


def test_one_pg_dump_reads_the_objects_and_the_properties_back(good_run, programs_started):
    record = verify_artifact(good_run.artifacts.get())

    assert record.status == Verification.Status.PASSED, record.error
    assert checks_by_name(record) == {"size": True, "sha256": True, "restore": True, "row_counts": True,
                                      "objects": True, "database_properties": True}
    # pg_restore: --list, pre-data, data, post-data; psql: the data section's statements; pg_dump: the restored
    # database's definitions, read by both the object check and the properties check.
    assert programs_started == {"pg_restore": 4, "psql": 1, "pg_dump": 1}


def test_an_object_lost_in_the_restore_still_fails_the_object_check(good_run, pg_server, monkeypatch):
    restore = verification.restore_scratch

    def loses_an_index(archive, head, target, listing):
        loaded = restore(archive, head, target, listing)
        with target.connect() as conn:
            conn.execute("ALTER TABLE users DROP CONSTRAINT users_email_key")
        return loaded

    monkeypatch.setattr(verification, "restore_scratch", loses_an_index)
    record = verify_artifact(good_run.artifacts.get())

    assert record.status == Verification.Status.FAILED
    assert checks_by_name(record) == {"size": True, "sha256": True, "restore": True, "row_counts": True,
                                      "objects": False, "database_properties": True}
    assert "missing after restore: CONSTRAINT public users users_email_key" in record.error
    assert record.scratch_database not in scratch_databases(pg_server)


def test_a_restored_database_pg_dump_cannot_read_fails_the_verification(good_run, pg_server, monkeypatch):
    from backups.errors import LifeboatError
    from backups.proof import objects

    def fails(target):
        raise LifeboatError("pg_dump of the restored database exited with status 1: planted")

    monkeypatch.setattr(objects, "definitions_archive", fails)
    record = verify_artifact(good_run.artifacts.get())

    assert record.status == Verification.Status.FAILED
    assert "planted" in record.error
    assert record.scratch_database not in scratch_databases(pg_server)


def test_the_scratch_database_is_dropped_beside_announcing_and_before_returning(good_run, pg_server,
                                                                                 monkeypatch):
    announcing = threading.Event()
    seen: dict[str, bool] = {}
    announce, drop = verification.announce, verification.drop_database

    def announce_marked(record, user):
        announcing.set()
        announce(record, user)

    def drop_when_announcing(server, name):
        seen["announcing while dropping"] = announcing.wait(timeout=10)
        drop(server, name)

    monkeypatch.setattr(verification, "announce", announce_marked)
    monkeypatch.setattr(verification, "drop_database", drop_when_announcing)
    record = verify_artifact(good_run.artifacts.get())

    assert record.status == Verification.Status.PASSED, record.error
    assert seen == {"announcing while dropping": True}
    assert record.scratch_database not in scratch_databases(pg_server)


def test_the_scratch_database_is_dropped_when_recording_the_outcome_fails(good_run, pg_server, monkeypatch):
    def broken(record, user):
        raise RuntimeError("planted")

    monkeypatch.setattr(verification, "announce", broken)
    with pytest.raises(RuntimeError, match="planted"):
        verify_artifact(good_run.artifacts.get())

    record = Verification.objects.exclude(status=Verification.Status.QUEUED).get()  # not the one queued by the backup
    assert record.status == Verification.Status.PASSED
    assert record.scratch_database not in scratch_databases(pg_server)


RELATIONS = """
CREATE TABLE measurements (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
  PARTITION BY LIST (id);
CREATE TABLE measurements_2026_any PARTITION OF measurements_2026 DEFAULT;
INSERT INTO measurements SELECT g, date '2025-06-01' + g FROM generate_series(1, 400) g;
CREATE TABLE parent (id int);
CREATE TABLE child () INHERITS (parent);
INSERT INTO child SELECT generate_series(1, 50);
CREATE MATERIALIZED VIEW parent_ids AS SELECT id FROM parent;
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Table ü" (x int);
"""


def analyze_counts(target) -> tuple[dict[str, int], set[str]]:
    """How often each table or materialized view was analyzed, and which tables have inheritance statistics."""
    import psycopg

    with psycopg.connect(target.conninfo(), autocommit=True) as conn:
        counts = dict(conn.execute(
            "SELECT c.oid::regclass::text, coalesce(s.analyze_count, 0) FROM pg_class c "
            "LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid "
            "WHERE c.relkind IN ('r', 'm') AND NOT c.relisshared").fetchall())
        inherited = {r[0] for r in conn.execute(
            "SELECT DISTINCT starelid::regclass::text FROM pg_statistic WHERE stainherit").fetchall()}
    return counts, inherited


def test_analyze_over_several_sessions_covers_what_a_database_wide_analyze_does(pg_server, make_source_db):
    """The same relations as one database-wide ANALYZE (system catalogs too), each exactly once: a partitioned
    table's ANALYZE takes its whole tree, so its partitions are not analyzed again on their own."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from psycopg import sql

    whole, shared = (pg_server.target.with_dbname(make_source_db(RELATIONS, prefix="lbt_analyze"))
                     for _ in range(2))
    with whole.connect() as conn:
        conn.execute("ANALYZE")
    with shared.connect() as first, shared.connect() as second:
        relations = deque(sql.Identifier(*r) for r in first.execute(verification.ANALYZE_SQL).fetchall())
        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(verification._analyze, s, relations) for s in (first, second)]:
                done.result()

    counts, inherited = analyze_counts(shared)
    assert (counts, inherited) == analyze_counts(whole)
    assert {counts[rel] for rel in ("measurements_2025", "measurements_2026_any", "child", "parent_ids",
                                    '"Odd Schema"."Table ü"', "pg_class", "pg_attribute")} == {1}
    assert {"measurements", "measurements_2026", "parent"} <= inherited
