"""Row counts recorded at backup time equal the rows in the dump even while the application keeps writing."""

from __future__ import annotations

import threading

from backups.engine import pipeline
from tests.helpers import stock_restore, table_counts


def test_counts_match_the_dump_under_concurrent_writes(learning_db, pg_server, make_source_db):
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute("INSERT INTO lessons (title, body) SELECT 'bulk', repeat('y', 500) FROM generate_series(1, 50000)")
    stop = threading.Event()
    inserted = []

    def writer() -> None:
        with pg_server.connect(learning_db.dbname) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO users (email) VALUES (gen_random_uuid()::text)")
                conn.execute("INSERT INTO lessons (title) VALUES ('during backup')")
                inserted.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        run = pipeline.backup(learning_db)
    finally:
        stop.set()
        thread.join()

    assert run.status == "succeeded", run.error
    assert inserted, "the writer never ran"
    restored = make_source_db(prefix="lbt_snap")
    stock_restore(run.artifacts.get().location, pg_server, restored)
    tables = ["users", "lessons", "problems"]
    restored_counts = table_counts(pg_server, restored, tables)
    assert {f"public.{t}": n for t, n in restored_counts.items()} == run.row_counts
    live_counts = table_counts(pg_server, learning_db.dbname, tables)
    assert live_counts["users"] > restored_counts["users"], "writes should have continued past the snapshot"
