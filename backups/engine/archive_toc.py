"""The table of contents of a pg_dump custom-format archive, read from its binary header.

`pg_restore --list` prints names unquoted (a table named `Lessons ü` in schema `Course Content` reads as four
words) and leaves out each entry's dependencies. The header holds both exactly: every entry's dump id, type
("TABLE", "TABLE DATA", "DATABASE PROPERTIES"...), schema, name, owner, SQL and the dump ids it depends on. The
layout is pg_backup_archiver.c's ReadHead/ReadToc (archive versions 1.12 to 1.16: PostgreSQL 9.6 to 17).
The one reader of archive headers: restores select entries by it, the verification's object check compares two
tables of contents by it (backups.proof.objects).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

import zstandard

from backups import encryption
from backups.errors import RestoreFailed
from backups.storage import open_artifact
from backups.storage.interface import CHUNK

MAGIC = b"PGDMP"
FORMAT_CUSTOM = 1
OLDEST, NEWEST = (1, 12), (1, 16)


class TocUnreadable(RestoreFailed):
    """Not a custom-format archive this reader knows, or one cut short inside its table of contents."""


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    desc: str  # the entry's type: "TABLE", "TABLE DATA", "SEQUENCE OWNED BY", "DATABASE PROPERTIES"...
    schema: str  # empty for objects outside a schema
    tag: str  # the object's own name, unquoted ("Lessons ü"); "DATABASE x" / "TABLE t" for comments and ACLs
    owner: str
    defn: str
    section: int
    deps: tuple[int, ...] = ()
    has_data: bool = False

    def __str__(self) -> str:
        return " ".join(part for part in (self.desc, self.schema, self.tag) if part)

    @property
    def identity(self) -> tuple[str, str, str]:
        """pg_dump's own identity for the object: (type, schema, name) as it wrote them, at full length."""
        return self.desc, self.schema, self.tag

    def list_line(self) -> str:
        """A line `pg_restore --use-list` selects by (only the leading dump id counts; the rest is a comment)."""
        text = " ".join(f"{self.desc} {self.schema} {self.tag}".split())
        return f"{self.dump_id}; 0 0 {text}"


@dataclass(frozen=True)
class ArchiveToc:
    version: tuple[int, int, int]
    dbname: str
    server_version: str
    dump_version: str
    entries: tuple[TocEntry, ...] = field(default=())

    def by_id(self) -> dict[int, TocEntry]:
        return {e.dump_id: e for e in self.entries}

    def find(self, desc: str, schema: str | None = None, tag: str | None = None) -> list[TocEntry]:
        return [e for e in self.entries if e.desc == desc and (schema is None or e.schema == schema)
                and (tag is None or e.tag == tag)]

    def use_list(self, chosen: Iterable[int]) -> str:
        """A --use-list file selecting `chosen`, in archive order (a piped archive cannot be read out of order)."""
        wanted = set(chosen)
        return "".join(e.list_line() + "\n" for e in self.entries if e.dump_id in wanted)


class _Reader:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.int_size = 4
        self.off_size = 8

    def bytes(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.fh.read(n - len(data))
            if not chunk:
                raise TocUnreadable("the archive ends inside its table of contents")
            data += chunk
        return bytes(data)

    def byte(self) -> int:
        return self.bytes(1)[0]

    def int(self) -> int:
        negative = self.byte()
        value = int.from_bytes(self.bytes(self.int_size), "little")
        return -value if negative else value

    def str(self) -> str | None:
        length = self.int()
        return None if length < 0 else self.bytes(length).decode("utf-8", errors="replace")

    def offset(self) -> None:
        self.bytes(1 + self.off_size)


def read_toc(fh: BinaryIO) -> ArchiveToc:
    """Read the header and table of contents from the start of an (uncompressed) custom-format archive."""
    r = _Reader(fh)
    if r.bytes(5) != MAGIC:
        raise TocUnreadable("not a pg_dump custom-format archive")
    version = (r.byte(), r.byte(), r.byte())
    if not OLDEST <= version[:2] <= NEWEST:
        raise TocUnreadable(f"archive version {'.'.join(map(str, version))} is not one Lifeboat can read")
    r.int_size, r.off_size = r.byte(), r.byte()
    if r.byte() != FORMAT_CUSTOM:
        raise TocUnreadable("not a pg_dump custom-format archive")
    if version[:2] >= (1, 15):
        r.byte()  # compression algorithm
    else:
        r.int()  # compression level
    for _ in range(7):  # creation time: sec, min, hour, mday, mon, year, isdst
        r.int()
    dbname, server_version, dump_version = r.str() or "", r.str() or "", r.str() or ""
    entries = []
    for _ in range(r.int()):
        dump_id = r.int()
        has_data = bool(r.int())
        r.str()  # catalog tableoid
        r.str()  # catalog oid
        tag, desc = r.str() or "", r.str() or ""
        section = r.int()
        defn = r.str() or ""
        r.str()  # drop statement
        r.str()  # copy statement
        schema = r.str() or ""
        r.str()  # tablespace
        r.str()  # table access method
        if version[:2] >= (1, 16):
            r.int()  # relkind
        owner = r.str() or ""
        r.str()  # "with oids", always false
        deps = []
        while (dep := r.str()) is not None:
            deps.append(int(dep))
        r.offset()  # where the entry's data starts (custom format)
        entries.append(TocEntry(dump_id, desc, schema, tag, owner, defn, section, tuple(deps), has_data))
    return ArchiveToc(version, dbname, server_version, dump_version, tuple(entries))


def read_artifact_toc(artifact) -> ArchiveToc:
    """The table of contents of a stored copy: only the head of the archive is read and decompressed."""
    with open_artifact(artifact) as raw, encryption.opened(raw, artifact.location) as plain:
        with zstandard.ZstdDecompressor().stream_reader(plain, read_size=CHUNK) as data:
            try:
                return read_toc(data)
            except zstandard.ZstdError as exc:
                raise RestoreFailed(f"the artifact is corrupt (zstd: {exc})") from None
