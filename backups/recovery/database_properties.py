"""The database's own properties, kept through a restore: encoding and locale, owner, comment, connection limit,
the database ACL (REVOKE CONNECT ... FROM PUBLIC), ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE ... SET.

Every backup already records them: pg_dump writes a custom archive's DATABASE, DATABASE PROPERTIES, COMMENT and
ACL entries for `pg_restore --create`. pg_restore can only apply them under the archive's own database name, so
Lifeboat reads those entries from the archive's table of contents, puts the target's name in the one place each
statement names the database (a token after ON/ALTER/IN/CREATE DATABASE, found by a small SQL lexer, never by
text search), and runs them one by one. What the server refuses (a superuser-only setting, an owner the restoring
login may not give the database to, a role that does not exist on another server) is reported as "not restorable
here", never dropped silently. Verification reads the restored database's properties back the same way (pg_dump
of that database, its table of contents) and compares the two, as a check of its own.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from backups.engine.archive_toc import ArchiveToc, read_toc
from backups.errors import RestoreFailed

_TOKEN = re.compile(r"""(?P<space>\s+)|(?P<string>[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')|(?P<quoted>"(?:[^"]|"")*")
                        |(?P<word>\w+)|(?P<other>.)""", re.X | re.S)
_NAMING = {"ON", "ALTER", "IN", "CREATE"}  # ... ON DATABASE x, ALTER DATABASE x, IN DATABASE x, CREATE DATABASE x
SLOT = None  # where a statement's tokens hold the database's name
CREATE_OPTIONS_COMPARED = ("ENCODING", "LOCALE_PROVIDER", "LOCALE", "LC_COLLATE", "LC_CTYPE", "ICU_LOCALE",
                           "TABLESPACE")


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]


def _ident_value(kind: str, text: str) -> str | None:
    if kind == "quoted":
        return text[1:-1].replace('""', '"')
    return text.lower() if kind == "word" else None


@dataclass(frozen=True)
class Statement:
    """One SQL statement about the database, its name left as a slot to fill with any database's name."""

    kind: str  # "comment", "acl", "connection limit", "setting", "role setting", "template", "security label"
    parts: tuple[str | None, ...]

    def render(self, dbname: str) -> str:
        quoted = sql.Identifier(dbname).as_string(None)
        return "".join(quoted if p is SLOT else p for p in self.parts)

    def __str__(self) -> str:
        return " ".join("".join("<database>" if p is SLOT else p for p in self.parts).split())


def split_statements(text: str, dbname: str, kind: str | None = None) -> list[Statement]:
    """The statements of an archive entry's SQL, each with its database name found and made a slot."""
    statements, current = [], []
    for token in [*_tokens(text), ("other", ";")]:
        if token == ("other", ";"):
            if any(k != "space" for k, _ in current):
                statements.append(_statement(current, dbname, kind))
            current = []
        else:
            current.append(token)
    return statements


def _statement(tokens: list[tuple[str, str]], dbname: str, kind: str | None) -> Statement:
    while tokens and tokens[0][0] == "space":
        tokens = tokens[1:]
    parts: list[str | None] = [t for _, t in tokens]
    solid = [i for i, (k, _) in enumerate(tokens) if k != "space"]
    for n, i in enumerate(solid[1:-1], start=1):
        before, after = tokens[solid[n - 1]], tokens[solid[n + 1]]
        if tokens[i][1].upper() == "DATABASE" and before[1].upper() in _NAMING \
                and _ident_value(*after) == dbname:
            slot = solid[n + 1]
            parts[slot] = SLOT
            break
    else:
        text = "".join(t for _, t in tokens)
        raise RestoreFailed(f"cannot find database {dbname} in the archive's statement {text!r}")
    words = [t.upper() for k, t in tokens if k == "word"]
    after = [t.upper() for k, t in tokens[slot + 1:] if k == "word"]
    return Statement(kind or _kind(words, after), tuple(parts))


def _kind(words: list[str], after: list[str]) -> str:
    """What an ALTER statement sets, from its first words and those after the database's name."""
    if words[:2] == ["ALTER", "ROLE"] or words[:2] == ["ALTER", "USER"]:
        return "role setting"
    if words[:2] == ["ALTER", "DATABASE"]:
        rest = after
        if rest[:2] == ["CONNECTION", "LIMIT"]:
            return "connection limit"
        if rest[:1] == ["IS_TEMPLATE"]:
            return "template"
        if rest[:1] in (["SET"], ["RESET"]):
            return "setting"
    return "property"


@dataclass(frozen=True)
class DatabaseProperties:
    """What the archive (or a live database, read the same way) says about the database itself."""

    name: str
    owner: str
    create: Statement | None
    options: dict[str, str] = field(default_factory=dict)  # CREATE DATABASE's options, TEMPLATE aside
    statements: tuple[Statement, ...] = ()

    def summary(self) -> str:
        kinds = [s.kind for s in self.statements]
        said = [f"{k} ({kinds.count(k)})" if kinds.count(k) > 1 else k for k in dict.fromkeys(kinds)]
        options = ", ".join(f"{k.lower()} {v}" for k, v in self.options.items() if k in ("ENCODING", "LOCALE",
                                                                                          "LC_COLLATE", "LC_CTYPE"))
        return ", ".join(filter(None, [options, f"owner {self.owner}" if self.owner else "", *said]))


def from_toc(toc: ArchiveToc) -> DatabaseProperties | None:
    """The properties in an archive's DATABASE, DATABASE PROPERTIES, COMMENT, SECURITY LABEL and ACL entries."""
    database = next((e for e in toc.entries if e.desc == "DATABASE"), None)
    if database is None:
        return None
    name = database.tag
    create = split_statements(database.defn, name, "create")
    statements: list[Statement] = []
    for entry in toc.entries:
        if entry.desc == "DATABASE PROPERTIES":
            statements += split_statements(entry.defn, name)
        elif entry.desc in ("COMMENT", "SECURITY LABEL", "ACL") and _about(entry.tag, name):
            statements += split_statements(entry.defn, name, entry.desc.lower())
    return DatabaseProperties(name, database.owner, create[0] if create else None,
                              _create_options(create[0]) if create else {}, tuple(statements))


def _about(tag: str, dbname: str) -> bool:
    """A COMMENT/ACL entry's tag is 'DATABASE <name as an identifier>'."""
    if not tag.startswith("DATABASE "):
        return False
    solid = [t for t in _tokens(tag[len("DATABASE "):]) if t[0] != "space"]
    return len(solid) == 1 and _ident_value(*solid[0]) == dbname


def _create_options(create: Statement) -> dict[str, str]:
    solid = [(p, _unquote(p)) for p in create.parts if p is not SLOT and p.strip()]
    options: dict[str, str] = {}
    for i in range(1, len(solid) - 1):
        if solid[i][0] == "=":
            options[solid[i - 1][0].upper()] = solid[i + 1][1]
    options.pop("TEMPLATE", None)
    options.pop("OID", None)
    return options


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return _ident_value("quoted", text) if text.startswith('"') else text


# --- restoring ------------------------------------------------------------------------------------------


def create_database_like(server: ConnectionOptions, dbname: str, props: DatabaseProperties | None, *,
                         owner: str | None = None) -> list[str]:
    """CREATE DATABASE (OWNER `owner` when given: the role that loads the backup) with the backup's encoding,
    locale and tablespace; where the server lacks one of them, the same encoding with the server's locale or
    with C, else the server's defaults, said in the returned notes."""
    head = sql.SQL("CREATE DATABASE {} WITH").format(sql.Identifier(dbname))
    if owner:
        head += sql.SQL(" OWNER = {}").format(sql.Identifier(owner))
    attempts: list[tuple[sql.Composable, str]] = []
    if props and props.create:
        attempts.append((sql.SQL("{} TEMPLATE = template0 {}").format(head, create_options_sql(props.options)), ""))
        if "ENCODING" in props.options:  # the server's locale, else C (which fits every encoding)
            encoding = sql.Literal(props.options["ENCODING"])
            attempts.append((sql.SQL("{} TEMPLATE = template0 ENCODING = {}").format(head, encoding),
                             "locale and tablespace"))
            attempts.append((sql.SQL("{} TEMPLATE = template0 ENCODING = {} LOCALE = 'C'").format(head, encoding),
                             "locale and tablespace"))
        attempts.append((sql.SQL("{} TEMPLATE = template0").format(head), "encoding, locale and tablespace"))
    else:
        attempts.append((head, ""))
    errors: list[str] = []
    with server.connect(dbname="postgres") as conn:
        for statement, lost in attempts:
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                if statement is attempts[-1][0]:
                    raise
                errors.append(_reason(exc))
                continue
            if not lost:
                return []
            backup = ", ".join(f"{k.lower()} {v}" for k, v in props.options.items())
            return [f"{lost} not restorable here ({backup} in the backup), the server's default used instead: "
                    + "; ".join(errors)]
    return []


def create_options_sql(options: dict[str, str]) -> sql.Composable:
    """The backup's CREATE DATABASE options, rebuilt from their values (the archive's statement is never run as
    text: its TEMPLATE, for one, is always template0 here)."""
    parts = []
    for key in CREATE_OPTIONS_COMPARED:
        value = options.get(key)
        if value is None:
            continue
        if key == "TABLESPACE":
            rendered: sql.Composable = sql.Identifier(value)
        elif key == "LOCALE_PROVIDER":
            rendered = sql.SQL("icu" if value.lower() == "icu" else "libc")
        else:
            rendered = sql.Literal(value)
        parts.append(sql.SQL(f"{key} = ") + rendered)
    return sql.SQL(" ").join(parts)


def restore_onto(server: ConnectionOptions, dbname: str, props: DatabaseProperties | None, *,
                 owner: bool = True) -> list[str]:
    """Apply owner, comment, limit, settings, role settings and ACL to `dbname`, each statement on its own, after
    the data is in (a statement_timeout or a connection limit must not hinder the restore itself). Returns what
    could not be restored here, one line each; an empty list means everything was."""
    if props is None:
        return ["database properties not in this backup (archive without a DATABASE entry)"]
    notes: list[str] = []
    with server.connect(dbname="postgres") as conn:
        if props.owner and owner:
            try:
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(dbname),
                                                                             sql.Identifier(props.owner)))
            except psycopg.Error as exc:
                notes.append(f"owner {props.owner} not restorable here: {_reason(exc)}")
        elif props.owner:
            notes.append(f"owner {props.owner} not restored (--no-owner)")
        for statement in props.statements:
            if statement.kind == "template":
                notes.append("IS_TEMPLATE not restored: a restored copy is never made a template")
                continue
            try:
                conn.execute(statement.render(dbname))
            except psycopg.Error as exc:
                notes.append(f"{statement.kind} not restorable here: {statement}: {_reason(exc)}")
        conn.execute("RESET SESSION AUTHORIZATION")
    return notes


def _reason(exc: psycopg.Error) -> str:
    return " ".join(str(exc).split())


# --- checking -------------------------------------------------------------------------------------------


def of_database(target: ConnectionOptions) -> DatabaseProperties | None:
    """A live database's properties, as pg_dump writes them (schema-only, no schema: just the database's entries)."""
    argv = [pgtools.pg_binary("pg_dump"), *target.cli_args(application_name="lifeboat-verify"), "--format=custom",
            "--schema-only", "--exclude-schema=*"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=target.env())
    stderr = pgtools.StderrDrain(proc.stderr)
    try:
        toc = read_toc(proc.stdout)
        proc.stdout.read()  # the rest (nothing but the end of a schema-only archive)
    except RestoreFailed:
        toc = None
    finally:
        proc.stdout.close()
        proc.wait()
    if proc.returncode != 0 or toc is None:
        raise RestoreFailed(f"pg_dump could not read the database's properties: {' '.join(stderr.join().split())}")
    return from_toc(toc)


@dataclass(frozen=True)
class Comparison:
    differences: tuple[str, ...]  # not explained by anything the server refused: a failed check
    not_restorable: tuple[str, ...]  # what the server refused here, and so differs (or was never tried)

    @property
    def ok(self) -> bool:
        return not self.differences


def compare(expected: DatabaseProperties | None, found: DatabaseProperties | None, notes: list[str]) -> Comparison:
    """The backup's properties against the restored database's; a difference is explained only by a note."""
    if expected is None:
        return Comparison((), tuple(notes))
    if found is None:
        return Comparison(("the restored database's properties could not be read",), tuple(notes))
    differences: list[str] = []
    encoding_refused = any(n.startswith("encoding, locale and tablespace not restorable") for n in notes)
    locale_refused = encoding_refused or any(n.startswith("locale and tablespace not restorable") for n in notes)
    for key in CREATE_OPTIONS_COMPARED:
        refused = encoding_refused if key == "ENCODING" else locale_refused
        if expected.options.get(key) != found.options.get(key) and not refused:
            differences.append(f"{key.lower()} {expected.options.get(key)} in the backup, "
                               f"{found.options.get(key)} restored")
    if expected.owner != found.owner and not any(n.startswith(f"owner {expected.owner} ") for n in notes):
        differences.append(f"owner {expected.owner} in the backup, {found.owner} restored")
    refused_text = "\n".join(notes)
    wanted = {str(s) for s in expected.statements if s.kind != "template"}
    present = {str(s) for s in found.statements if s.kind != "template"}
    refused_kinds = {s.kind for s in expected.statements if str(s) in refused_text}
    for missing in sorted(wanted - present):
        if missing not in refused_text:
            differences.append(f"missing: {missing}")
    for extra in sorted(present - wanted):
        kind = next(s.kind for s in found.statements if str(s) == extra)
        if kind not in refused_kinds and not (kind == "acl" and "owner" in refused_text):
            differences.append(f"not in the backup: {extra}")
    return Comparison(tuple(differences), tuple(notes))
