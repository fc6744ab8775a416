"""A REPEATABLE READ transaction that exports its snapshot for pg_dump and counts rows inside it.

The transaction stays open while pg_dump runs with `--snapshot=ID`, so the row counts recorded are exactly the
rows in the dump, even while the application keeps writing.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import psycopg
from psycopg import sql

from backups.conninfo import ConnectionOptions, server_version
from backups.errors import BackupFailed

# The count recorded for a materialized view created WITH NO DATA: it has no rows to count (count(*) on it is an
# error), pg_dump restores it unpopulated, and verification checks it is still unpopulated after the restore.
UNPOPULATED = "unpopulated"

# Every relation whose rows pg_dump writes: ordinary tables and partitions (relkind 'r'), materialized views
# ('m', refreshed on restore; an unpopulated one is listed with populated = false and not counted); not the
# partitioned parents (their rows are their partitions' rows), not extension-owned tables.
TABLES_SQL = """
SELECT n.nspname, c.relname, c.relispopulated
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
"""

# Newest migration of the application whose data this is, where a well-known migrations table exists:
# Django, Prisma (finished and not rolled back), Rails / golang-migrate, Alembic (its current head).
SCHEMA_VERSION_QUERIES = [
    ("django_migrations", "SELECT app || '.' || name FROM {} ORDER BY applied DESC, id DESC LIMIT 1"),
    ("_prisma_migrations", "SELECT migration_name FROM {} WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL "
                           "ORDER BY finished_at DESC, migration_name DESC LIMIT 1"),
    ("schema_migrations", "SELECT version::text FROM {} ORDER BY version DESC LIMIT 1"),
    ("alembic_version", "SELECT string_agg(version_num, ',' ORDER BY version_num) FROM {}"),
]
# The table in the schema the application most likely uses: visible on the search path first, then by name.
FIND_TABLE_SQL = """
SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY NOT pg_catalog.pg_table_is_visible(c.oid), n.nspname LIMIT 1
"""


def table_key(schema: str, name: str) -> str:
    return f"{schema}.{name}"


def count_rows(conn: psycopg.Connection) -> dict[str, int | str]:
    """Exact row count of every dumped table, as seen by this connection's transaction; UNPOPULATED for a
    materialized view that holds no data."""
    counts: dict[str, int | str] = {}
    with conn.cursor() as cur:
        tables = cur.execute(TABLES_SQL).fetchall()
        for schema, name, populated in tables:
            if not populated:
                counts[table_key(schema, name)] = UNPOPULATED
                continue
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
            # A savepoint keeps the snapshot-exporting transaction alive if one count fails (say, permission
            # denied): aborting it would pull the snapshot from under pg_dump and hide pg_dump's own message.
            cur.execute("SAVEPOINT count_rows")
            try:
                counts[table_key(schema, name)] = cur.execute(query).fetchone()[0]
            except psycopg.Error as exc:
                cur.execute("ROLLBACK TO SAVEPOINT count_rows")
                raise BackupFailed(f"cannot count rows of {schema}.{name}: {' '.join(str(exc).split())}") from None
            cur.execute("RELEASE SAVEPOINT count_rows")
    return counts


class SnapshotSession:
    def __init__(self, target: ConnectionOptions, run_id: int | None = None) -> None:
        self.target = target
        self.run_id = run_id
        self.conn: psycopg.Connection | None = None
        self.snapshot_id = ""
        self.server_version = ""
        self._lock = threading.Lock()

    def __enter__(self) -> SnapshotSession:
        self.conn = self.target.connect(autocommit=False, application_name=f"lifeboat-snapshot-run-{self.run_id}")
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        self.server_version = server_version(self.conn)
        with self.conn.cursor() as cur:
            self.snapshot_id = cur.execute("SELECT pg_export_snapshot()").fetchone()[0]
        return self

    def __exit__(self, *exc_info) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()

    def count_rows_in_background(self) -> Future:
        """Count rows in a thread while pg_dump streams; the connection is used by this thread alone."""
        future: Future = Future()

        def work() -> None:
            try:
                with self._lock:
                    future.set_result(count_rows(self.conn))
            except BaseException as exc:  # surfaced by future.result() in the pipeline
                future.set_exception(exc)

        threading.Thread(target=work, name=f"row-count-{self.run_id}", daemon=True).start()
        return future

    def app_schema_version(self) -> str:
        """e.g. 'django_migrations: lessons.0042_add_difficulty', or a Prisma/Rails/Alembic version; '' when none.

        Read in the exported snapshot's transaction: the version of exactly the data pg_dump dumps, even if
        a migration is applied while the dump runs.
        """
        with self._lock, self.conn.cursor() as cur:
            for table, query in SCHEMA_VERSION_QUERIES:
                found = cur.execute(FIND_TABLE_SQL, (table,)).fetchone()
                if found:
                    try:
                        cur.execute("SAVEPOINT schema_version")
                        row = cur.execute(sql.SQL(query).format(
                            sql.Identifier(found[0], table))).fetchone()
                        cur.execute("RELEASE SAVEPOINT schema_version")
                    except psycopg.Error:
                        cur.execute("ROLLBACK TO SAVEPOINT schema_version")
                        continue
                    if row and row[0]:
                        return f"{table}: {row[0]}"
        return ""
