"""The object check: every object the archive lists exists after the restore, by pg_dump's own identity for it.

Right by construction rather than by a catalog query per kind: the restored scratch database is dumped again
(definitions only, `--section=pre-data --section=post-data`; verification reads the database's properties from
that same dump) and the two tables of contents are compared entry by entry on (type, schema, name) exactly as
pg_dump wrote them: `FUNCTION public takes_domain(public.pos_int)`,
`CONSTRAINT "Course Content" "Lessons ü" "..."`, `BLOB 16421`, window functions, aggregates, operators, policies,
publications, extended statistics, extensions, comments: whatever kind pg_dump knows, at full length.

Both tables of contents are read from the archives' binary headers by the one reader of them
(backups.engine.archive_toc: `pg_restore --list` prints schema, name and owner separated by spaces, unquoted, so a
name with a space cannot be told apart there).

Entries the scratch restore does not reproduce, privileges (it runs with --no-acl), are counted apart and reported
as not compared, never passed silently nor failed. The database's own entries (DATABASE, its comment...) are left
to the database properties check: the scratch database has another name.
"""

from __future__ import annotations

import io
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from backups.engine.archive_toc import ArchiveToc as Toc
from backups.engine.archive_toc import TocEntry, TocUnreadable, read_toc
from backups.errors import LifeboatError

__all__ = ["Toc", "TocEntry", "TocUnreadable", "read_toc", "split", "compare", "compare_tocs", "ObjectReport"]

# teSection in pg_dump's pg_backup.h
NONE, PRE_DATA, DATA, POST_DATA = 1, 2, 3, 4
SETTINGS = {"ENCODING", "STDSTRINGS", "SEARCHPATH"}  # session settings of the restore, not objects
PRIVILEGES = {"ACL", "DEFAULT ACL", "ACL LANGUAGE"}  # restored with --no-acl: not in the scratch database
DATABASE_ENTRIES = {"DATABASE", "DATABASE PROPERTIES"}  # the scratch database has another name
DATABASE_ATTACHED = {"COMMENT", "SECURITY LABEL", *PRIVILEGES}  # ... 'DATABASE name' entries of these kinds too
DUMP_TIMEOUT = 900  # seconds for the definitions-only dump of the scratch database
# pg_dump 15+ lists the public schema only when its owner is not pg_database_owner: a database made by PostgreSQL
# 14 or older (or pg_upgrade'd from one) has it owned by a role. The scratch restore runs --no-owner, so there the
# schema keeps the default owner and the re-dump does not list it: present is decided by the catalog instead
# (owners are never compared by this check).
PUBLIC_SCHEMA = ("SCHEMA", "", "public")


def split(toc: Toc) -> tuple[list[TocEntry], dict[str, int]]:
    """The entries the scratch restore must reproduce, and a count by kind of those it cannot (not compared).

    Left out altogether: rows (the counts check's), session settings (no objects) and the database's own entries
    (the scratch database has another name; the database properties are a check of their own).
    """
    compared: list[TocEntry] = []
    not_compared: Counter[str] = Counter()
    for entry in toc.entries:
        if entry.section == DATA or entry.desc in SETTINGS or entry.desc in DATABASE_ENTRIES or (
                entry.desc in DATABASE_ATTACHED and entry.tag.startswith("DATABASE ")):
            continue
        if entry.desc in PRIVILEGES:
            not_compared[entry.desc] += 1
        else:
            compared.append(entry)
    return compared, dict(not_compared)


def dump_definitions(target: ConnectionOptions) -> Toc:
    """The table of contents of the restored database: the definitions pg_dump writes for it now."""
    return read_toc(io.BytesIO(definitions_archive(target)))


def definitions_archive(target: ConnectionOptions) -> bytes:
    """A definitions-only custom-format archive of `target` (no rows; small): its table of contents holds every
    object's entry and the database's own entries (DATABASE, DATABASE PROPERTIES, its COMMENT and ACL)."""
    proc = subprocess.run(
        [pgtools.pg_binary("pg_dump"), *target.cli_args(application_name="lifeboat-verify"), "--format=custom",
         "--compress=0", "--section=pre-data", "--section=post-data"],
        capture_output=True, env=target.env(), stdin=subprocess.DEVNULL, timeout=DUMP_TIMEOUT)
    if proc.returncode != 0:
        message = " ".join(proc.stderr.decode(errors="replace").split())
        raise LifeboatError(f"pg_dump of the restored database exited with status {proc.returncode}: {message}")
    return proc.stdout


@dataclass
class ObjectReport:
    expected: int
    missing: list[str]
    unexpected: list[str]
    not_compared: dict[str, int]
    archive_version: str = ""
    restored_version: str = ""

    @property
    def ok(self) -> bool:
        return not self.missing

    def detail(self, limit: int = 20) -> str:
        text = f"{self.expected} objects in the backup's table of contents"
        text += (f"; missing after restore: {', '.join(self.missing[:limit])}"
                 + (f" and {len(self.missing) - limit} more" if len(self.missing) > limit else "")
                 if self.missing else ", all present by pg_dump's identity")
        if self.unexpected:
            text += f"; {len(self.unexpected)} not in the backup: {', '.join(self.unexpected[:5])}"
        if self.archive_version != self.restored_version:
            text += f" (archive by pg_dump {self.archive_version}, compared with pg_dump {self.restored_version})"
        return text

    def not_compared_detail(self) -> str:
        why = {"ACL": "privileges (the scratch restore runs --no-acl)",
               "DEFAULT ACL": "default privileges (the scratch restore runs --no-acl)"}
        return "not compared: " + "; ".join(f"{n} × {why.get(kind, kind)}" for kind, n in
                                            sorted(self.not_compared.items()))


PUBLIC_SCHEMA_SQL = "SELECT 1 FROM pg_namespace WHERE nspname = 'public'"


def has_public_schema(conn) -> bool:
    """Whether the database `conn` is connected to has a schema named public (a psycopg connection)."""
    return conn.execute(PUBLIC_SCHEMA_SQL).fetchone() is not None


def _has_public_schema(target: ConnectionOptions) -> bool:
    with target.connect(application_name="lifeboat-verify") as conn:
        return has_public_schema(conn)


def compare(archive: Toc, target: ConnectionOptions) -> ObjectReport:
    """Compare the archive's objects with those of the restored database `target` (dumped here)."""
    return compare_tocs(archive, dump_definitions(target), lambda: _has_public_schema(target))


def compare_tocs(archive: Toc, restored: Toc, public_schema: bool | Callable[[], bool]) -> ObjectReport:
    """Compare the archive's objects with a restored database's table of contents. `public_schema`: whether the
    restored catalog has the public schema (asked only when the archive lists it and the dump does not)."""
    expected, not_compared = split(archive)
    present, _ = split(restored)
    want = Counter(e.identity for e in expected)
    have = Counter(e.identity for e in present)
    if want[PUBLIC_SCHEMA] and not have[PUBLIC_SCHEMA] and (
            public_schema() if callable(public_schema) else public_schema):
        have[PUBLIC_SCHEMA] = want[PUBLIC_SCHEMA]
    as_text = {e.identity: str(e) for e in [*expected, *present]}
    return ObjectReport(
        expected=len(expected),
        missing=sorted(as_text[i] for i in (want - have).elements()),
        unexpected=sorted(as_text[i] for i in (have - want).elements()),
        not_compared=not_compared, archive_version=archive.dump_version, restored_version=restored.dump_version,
    )
