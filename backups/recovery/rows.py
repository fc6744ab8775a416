"""Getting deleted rows back: the plan's "import to production (careful with conflicts)".

The chosen tables are restored from a backup into a recovery database, compared with production by primary key
(rows missing from production, rows present but changed, rows equal), and on confirmation only the missing rows
are inserted into production: all tables in one transaction, parents before children (foreign keys), never
overwriting a row (ON CONFLICT DO NOTHING also skips a row that collides with another unique key, and says so).
Each table's rows are inserted as that table's owner (SET ROLE), never as a superuser login, so production's
triggers run with the rights they always have. A table without a primary key is refused: rows cannot be matched.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from audit import trail
from backups.errors import ConfigurationError, LifeboatError, RestoreFailed
from backups.models import Artifact, Restore
from backups.recovery import restore as restoring
from backups.recovery.table_selection import TableName, parse_table_names

STAGE = "lifeboat_recovered"
TABLE_SQL = """
SELECT c.oid, pg_get_userbyid(c.relowner),
       (SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary),
       (SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')
"""
# Foreign keys between the chosen tables: (child, parent), to insert parents first.
FK_SQL = "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid"


@dataclass
class TableRows:
    table: str
    key: list[str]
    owner: str
    missing: int = 0
    changed: int = 0
    equal: int = 0
    inserted: int = 0
    skipped: int = 0  # missing rows that collided with another unique key (or appeared meanwhile): not inserted


@dataclass
class RowRecovery:
    database: str
    run: int
    dry_run: bool
    recovery_database: str
    tables: list[TableRows] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Table:
    name: TableName
    oid: int
    owner: str
    key: list[str]
    columns: list[str]


def recover_rows(artifact: Artifact, tables: list[str], *, dry_run: bool = False, user=None) -> RowRecovery:
    """Compare the chosen tables of a backup with production and (unless dry_run) insert the missing rows.

    `user` (the dashboard's, or the command line's --actor) is recorded with the restore and in the audit trail."""
    names = parse_table_names(tables)
    if not names:
        raise ConfigurationError("name at least one table (--table schema.table)")
    production = restoring.source_target(artifact)
    with production.connect(application_name="lifeboat-rows") as conn:
        found = _describe(conn, names)
    recovery_name = f"lifeboat_rows_{artifact.run_id}_{uuid.uuid4().hex[:8]}"
    result = RowRecovery(artifact.run.database.name, artifact.run_id, dry_run, recovery_name)
    record = restoring.restore(artifact, recovery_name, tables=[str(n) for n in names], user=user)
    if record.status != Restore.Status.SUCCEEDED:
        raise RestoreFailed(f"the tables could not be restored from run #{artifact.run_id}: {record.error}")
    server = production.with_dbname("postgres")
    try:
        with production.connect(dbname=recovery_name, application_name="lifeboat-rows") as recovered, \
                production.connect(autocommit=False, application_name="lifeboat-rows") as conn:
            for table in _parents_first(conn, found):
                result.tables.append(_compare_and_insert(conn, recovered, table, dry_run))
            if dry_run:
                conn.rollback()
            else:
                conn.commit()
    except psycopg.Error as exc:
        raise RestoreFailed(f"rows not recovered (production unchanged): {' '.join(str(exc).split())}") from None
    finally:
        try:
            restoring.drop_database(server, recovery_name)
        except LifeboatError:
            pass
    _audit(artifact, result, user)
    return result


def _describe(conn: psycopg.Connection, names: list[TableName]) -> list[_Table]:
    found = []
    for name in names:
        row = conn.execute(TABLE_SQL, (name.schema, name.name)).fetchone()
        if row is None:
            raise ConfigurationError(f"table {name} does not exist in production (restore it with restore --table)")
        oid, owner, key, columns = row
        if not key:
            raise ConfigurationError(f"table {name} has no primary key: its rows cannot be matched with production's")
        found.append(_Table(name, oid, owner, list(key), list(columns)))
    return found


def _parents_first(conn: psycopg.Connection, tables: list[_Table]) -> list[_Table]:
    by_oid = {t.oid: t for t in tables}
    parents: dict[int, set[int]] = {t.oid: set() for t in tables}
    for child, parent in conn.execute(FK_SQL).fetchall():
        if child in by_oid and parent in by_oid:
            parents[child].add(parent)
    ordered: list[_Table] = []
    while parents:
        ready = [oid for oid, needs in parents.items() if not needs - {t.oid for t in ordered}]
        if not ready:  # a cycle of foreign keys: keep the given order for the rest
            ready = list(parents)
        for oid in ready:
            ordered.append(by_oid[oid])
            del parents[oid]
    return ordered


def _compare_and_insert(conn: psycopg.Connection, recovered: psycopg.Connection, table: _Table,
                        dry_run: bool) -> TableRows:
    rows = TableRows(str(table.name), table.key, table.owner)
    target = sql.Identifier(table.name.schema, table.name.name)
    present = {r[0] for r in recovered.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (str(table.name),)).fetchall()}
    columns = [c for c in table.columns if c in present]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(STAGE)))
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
                 .format(sql.Identifier(STAGE), cols, target))
    _copy_rows(recovered, conn, sql.SQL("COPY {} ({}) TO STDOUT").format(target, cols),
               sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(STAGE), cols))
    same_key = sql.SQL(" AND ").join(sql.SQL("p.{c} = r.{c}").format(c=sql.Identifier(k)) for k in table.key)
    p_cols = sql.SQL(", ").join(sql.SQL("p.{}").format(sql.Identifier(c)) for c in columns)
    r_cols = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in columns)
    # Rows compared as their text form (every type has one; json has no equality operator); never NULL itself.
    rows.missing, rows.changed, rows.equal = conn.execute(sql.SQL(
        "SELECT count(*) FILTER (WHERE p.row IS NULL), count(*) FILTER (WHERE p.row <> ROW({r_cols})::text), "
        "count(*) FILTER (WHERE p.row = ROW({r_cols})::text) "
        "FROM {stage} r LEFT JOIN LATERAL (SELECT ROW({p_cols})::text AS row FROM {target} p WHERE {same_key}) p "
        "ON true"
    ).format(r_cols=r_cols, stage=sql.Identifier(STAGE), p_cols=p_cols, target=target,
             same_key=same_key)).fetchone()
    if not dry_run and rows.missing:
        rows.inserted = _insert_missing(conn, table, target, cols, r_cols, same_key)
        rows.skipped = rows.missing - rows.inserted
    return rows


def _copy_rows(source: psycopg.Connection, dest: psycopg.Connection, out: sql.Composed, into: sql.Composed) -> None:
    """Stream rows from one database into another, row by row (constant memory)."""
    with source.cursor().copy(out) as rows_out, dest.cursor().copy(into) as rows_in:
        for row in rows_out:
            rows_in.write(row)


def _insert_missing(conn: psycopg.Connection, table: _Table, target: sql.Composed, cols: sql.Composed,
                    r_cols: sql.Composed, same_key: sql.Composed) -> int:
    """INSERT ... ON CONFLICT DO NOTHING as the table's owner: production's triggers run with its rights."""
    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(STAGE), sql.Identifier(table.owner)))
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(table.owner)))
    try:
        cur = conn.execute(sql.SQL(
            "INSERT INTO {target} ({cols}) OVERRIDING SYSTEM VALUE SELECT {r_cols} FROM {stage} r "
            "WHERE NOT EXISTS (SELECT 1 FROM {target} p WHERE {same_key}) ON CONFLICT DO NOTHING"
        ).format(target=target, cols=cols, r_cols=r_cols, stage=sql.Identifier(STAGE), same_key=same_key))
        return cur.rowcount
    finally:
        conn.execute("RESET ROLE")


def _audit(artifact: Artifact, result: RowRecovery, user) -> None:
    counts = ", ".join(f"{t.table}: {t.missing} missing, {t.changed} changed, {t.equal} equal"
                       + ("" if result.dry_run else f", {t.inserted} inserted") for t in result.tables)
    action = "rows.compared" if result.dry_run else "rows.recovered"
    trail.record(action, actor=user, target=artifact.run,
                 summary=f"{'compared' if result.dry_run else 'recovered rows of'} {result.database} with run "
                         f"#{result.run}: {counts}",
                 details=result.as_dict())
