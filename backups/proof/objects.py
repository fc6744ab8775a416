"""The object check: every object the archive lists exists after the restore, by pg_dump's own identity for it.

Right by construction rather than by a catalog query per kind: the restored scratch database is dumped again
(definitions only, `--section=pre-data --section=post-data`; verification reads the database's properties from
that same dump) and the two tables of contents are compared entry by entry on (type, schema, name) exactly as
pg_dump wrote them: `FUNCTION public takes_domain(public.pos_int)`,
`CONSTRAINT "Course Content" "Lessons ü" "..."`, `BLOB 16421`, window functions, aggregates, operators, policies,
publications, extended statistics, extensions, comments: whatever kind pg_dump knows, at full length.

Both tables of contents are read from the archives' binary headers (`pg_restore --list` prints schema, name and
owner separated by spaces, unquoted, so a name with a space cannot be told apart there).

Entries the scratch restore does not reproduce, privileges (it runs with --no-acl), are counted apart and reported
as not compared, never passed silently nor failed. The database's own entries (DATABASE, its comment...) are left
to the database properties check: the scratch database has another name.
"""

from __future__ import annotations

import io
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from backups.errors import LifeboatError

# teSection in pg_dump's pg_backup.h
NONE, PRE_DATA, DATA, POST_DATA = 1, 2, 3, 4
# Archive versions (K_VERS_1_x) whose header this reader knows: pg_dump 12 (1.14) to 17 (1.16).
KNOWN_VERSIONS = range(12, 17)
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


class TocUnreadable(LifeboatError):
    """Not a custom-format archive this reader knows."""


@dataclass(frozen=True)
class TocEntry:
    desc: str  # pg_dump's type: TABLE, FUNCTION, CONSTRAINT, BLOB...
    namespace: str  # schema, '' for objects outside schemas
    tag: str  # pg_dump's name: 'users', 'takes_domain(public.pos_int)', 'users users_pkey'
    section: int = PRE_DATA

    def __str__(self) -> str:
        return " ".join(part for part in (self.desc, self.namespace, self.tag) if part)

    @property
    def identity(self) -> tuple[str, str, str]:
        return self.desc, self.namespace, self.tag


@dataclass
class Toc:
    dump_version: str
    entries: list[TocEntry] = field(default_factory=list)


class _Reader:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.int_size = 4

    def bytes(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.stream.read(n - len(data))
            if not chunk:
                raise TocUnreadable("the archive ends inside its table of contents")
            data += chunk
        return data

    def byte(self) -> int:
        return self.bytes(1)[0]

    def int(self) -> int:
        sign = self.byte()
        value = int.from_bytes(self.bytes(self.int_size), "little")
        return -value if sign else value

    def str(self) -> str | None:
        length = self.int()
        if length < 0:
            return None
        return self.bytes(length).decode("utf-8", errors="replace")


def read_toc(stream: BinaryIO) -> Toc:
    """The table of contents of a custom-format archive (pg_dump -Fc), read as pg_restore's ReadHead/ReadToc do."""
    r = _Reader(stream)
    if r.bytes(5) != b"PGDMP":
        raise TocUnreadable("not a pg_dump custom-format archive")
    major, minor, _rev = r.byte(), r.byte(), r.byte()
    if major != 1 or minor not in KNOWN_VERSIONS:
        raise TocUnreadable(f"archive format {major}.{minor} is not one this check can read")
    r.int_size, off_size, fmt = r.byte(), r.byte(), r.byte()
    if fmt != 1:
        raise TocUnreadable(f"archive format code {fmt} is not the custom format")
    if minor >= 15:
        r.byte()  # compression algorithm
    else:
        r.int()  # compression level
    for _ in range(7):  # creation time
        r.int()
    r.str()  # database name
    r.str()  # server version
    dump_version = r.str() or ""
    toc = Toc(dump_version=dump_version)
    for _ in range(r.int()):
        r.int()  # dump id
        r.int()  # had a data dumper
        r.str()  # catalog tableoid
        r.str()  # oid
        tag, desc, section = r.str() or "", r.str() or "", r.int()
        for _ in range(3):  # definition, drop statement, copy statement
            r.str()
        namespace = r.str() or ""
        r.str()  # tablespace
        r.str()  # table access method
        if minor >= 16:
            r.int()  # relkind
        r.str()  # owner
        r.str()  # "with oids"
        while r.str() is not None:  # dependencies, ended by a NULL
            pass
        r.bytes(1 + off_size)  # the custom format's data offset: a flag byte and the offset
        toc.entries.append(TocEntry(desc, namespace, tag, section))
    return toc


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
