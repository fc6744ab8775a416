"""Which entries of an archive restore a few chosen tables: their definitions, what those need, their rows only.

Tables are named as PostgreSQL names them (`users`, `public.users`, `"Course Content"."Lessons ü"`): unquoted
parts fold to lower case, quoted parts are taken as written. The entries come from the archive's own table of
contents with its dependencies, so a table in any schema, with a domain over an extension's type, a default
calling an extension's function, an enum or an owned sequence brings exactly those definitions along.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from backups.engine.archive_toc import ArchiveToc
from backups.errors import ConfigurationError

# Entries that belong to a table (or to a sequence it owns) and come with it.
ATTACHED = {"TABLE DATA", "DEFAULT", "CONSTRAINT", "CHECK CONSTRAINT", "FK CONSTRAINT", "INDEX", "TRIGGER", "RULE",
            "POLICY", "ROW SECURITY", "COMMENT", "SECURITY LABEL", "ACL", "SEQUENCE", "SEQUENCE OWNED BY",
            "SEQUENCE SET", "STATISTICS", "TABLE ATTACH", "INDEX ATTACH"}
TABLE_KINDS = {"TABLE"}
_PART = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^".\s]+))\s*')
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")


@dataclass(frozen=True, order=True)
class TableName:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


def quote_ident(name: str) -> str:
    """As PostgreSQL's quote_ident (keywords aside): plain lower-case names bare, anything else in double quotes."""
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def parse_table_name(text: str) -> TableName:
    """`users` (public), `billing.invoices`, `"Course Content"."Lessons ü"` -> TableName."""
    parts, pos = [], 0
    while True:
        match = _PART.match(text, pos)
        if not match or match.end() == pos:
            raise ConfigurationError(f"table name {text!r} is not a table name (schema.table, quoted as in SQL)")
        quoted, bare = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else bare.lower())
        pos = match.end()
        if pos == len(text):
            break
        if text[pos] != ".":
            raise ConfigurationError(f"table name {text!r} is not a table name (schema.table, quoted as in SQL)")
        pos += 1
    if len(parts) > 2 or any(not p or "\x00" in p or len(p.encode()) > 63 for p in parts):
        raise ConfigurationError(f"table name {text!r} is not a table name (schema.table, quoted as in SQL)")
    return TableName("public", parts[0]) if len(parts) == 1 else TableName(parts[0], parts[1])


def split_table_list(text: str) -> list[str]:
    """'users, billing.invoices "Course Content"."Lessons ü"' -> the three names: commas and white space separate
    names, except inside double quotes."""
    return [m.group(0) for m in re.finditer(r'(?:"(?:[^"]|"")*"|[^",\s])+', text)]


def parse_table_names(texts: Sequence[str]) -> list[TableName]:
    names: list[TableName] = []
    for text in texts:
        name = parse_table_name(text)
        if name not in names:
            names.append(name)
    return names


def _partitions_of(toc: ArchiveToc, tables: set[int]) -> set[int]:
    """A partitioned table's rows live in its partitions (at any depth): a TABLE ATTACH entry names the partition
    (its own tag) and depends on it and on the parent."""
    by_id = toc.by_id()
    found: set[int] = set()
    changed = True
    while changed:
        changed = False
        for attach in toc.find("TABLE ATTACH"):
            parts = [by_id[d] for d in attach.deps if d in by_id and by_id[d].desc in TABLE_KINDS]
            partition = [p for p in parts if (p.schema, p.tag) == (attach.schema, attach.tag)]
            parents = {p.dump_id for p in parts} - {p.dump_id for p in partition}
            if partition and parents & (tables | found) and partition[0].dump_id not in found | tables:
                found.add(partition[0].dump_id)
                changed = True
    return found


@dataclass(frozen=True)
class Selection:
    dump_ids: frozenset[int]
    skipped: tuple[str, ...]  # foreign keys to tables that were not chosen


def select_tables(toc: ArchiveToc, tables: Sequence[TableName]) -> Selection:
    """The dump ids that restore `tables`: each table, what belongs to it (rows, defaults, constraints, indexes,
    triggers, owned sequences, comments, grants) and, recursively, the definitions all of these depend on."""
    by_id = toc.by_id()
    chosen: set[int] = set()
    for table in tables:
        found = [e for e in toc.entries if e.desc in TABLE_KINDS and e.schema == table.schema and e.tag == table.name]
        if not found:
            raise ConfigurationError(f"table {table} is not in this backup")
        chosen.update(e.dump_id for e in found)
    chosen |= _partitions_of(toc, chosen)
    selected = set(chosen)
    skipped: list[str] = []
    changed = True
    while changed:
        changed = False
        for entry in toc.entries:
            if entry.dump_id in selected or entry.desc not in ATTACHED or not set(entry.deps) & selected:
                continue
            if entry.desc == "FK CONSTRAINT":
                tables_needed = {d for d in entry.deps if by_id.get(d) and by_id[d].desc in TABLE_KINDS}
                if not tables_needed <= chosen:
                    skipped.append(f"{entry.schema}.{entry.tag}")
                    continue
            if entry.desc == "TABLE DATA" and not set(entry.deps) & chosen:
                continue
            selected.add(entry.dump_id)
            changed = True
    pending = list(selected)
    while pending:  # the definitions everything selected depends on (no rows: those are TABLE DATA entries)
        entry = by_id.get(pending.pop())
        for dep in entry.deps if entry else ():
            if dep not in selected and dep in by_id and by_id[dep].desc != "TABLE DATA":
                selected.add(dep)
                pending.append(dep)
    sequences = {e.dump_id for e in toc.entries if e.desc == "SEQUENCE" and e.dump_id in selected}
    selected |= {e.dump_id for e in toc.entries if e.desc == "SEQUENCE SET" and set(e.deps) & sequences}
    return Selection(frozenset(selected), tuple(sorted(set(skipped))))
