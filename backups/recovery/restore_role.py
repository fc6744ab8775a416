"""Who loads a backup: a restricted role, so code inside a backup never runs with more rights than its owner had.

Restoring a dump runs its code (CHECK constraints, defaults, index expressions, triggers call functions written by
whoever owned them). Loaded by a superuser, any table owner of the source could become superuser. So verifications,
restores and drill restores log in as LIFEBOAT_RESTORE_ROLE: no superuser, no CREATEROLE, no CREATEDB, owner only of
the database it loads into (created for it by Lifeboat's own login), restoring with --no-owner. What that role may
not create (untrusted languages, C functions, event triggers, foreign-data wrappers, subscriptions, some settings)
makes a verification "not verifiable here", never "failed". A full superuser restore needs a server an Admin
declared isolated (LIFEBOAT_VERIFY_ISOLATED for the verification server, or a Server marked isolated) that holds no
protected database.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

import psycopg
from django.conf import settings
from psycopg import sql

from backups.conninfo import ConnectionOptions, password_from_env
from backups.errors import ConfigurationError, LifeboatError, RestoreFailed
from backups.recovery import identity


class NotVerifiableHere(RestoreFailed):
    """The backup holds something the restricted role may not create: not a failed proof."""


ROLE_SQL = "SELECT rolsuper, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = %s"
# pg_restore --list types only a superuser (or the owner of a superuser-made object) can create.
SUPERUSER_TYPES = ("EVENT TRIGGER", "FOREIGN DATA WRAPPER", "SERVER", "USER MAPPING", "SUBSCRIPTION",
                   "PROCEDURAL LANGUAGE")
TOC_ENTRY = re.compile(r"^\d+;\s+\d+\s+\d+\s+(?P<rest>.+)$")
# pg_restore messages that mean "this role may not", not "this backup is broken".
# "must be owner of type": e.g. a transform for a built-in type, which only its owner (the bootstrap superuser) may
# create; every type the backup itself defines is the restore role's own (--no-owner).
NEEDS_SUPERUSER = re.compile(
    r"must be superuser|permission denied for language|permission denied to create (extension|event trigger|"
    r"subscription)|only superusers? (can|may)|permission denied to set parameter|must be owner of (extension|type)|"
    r"permission denied for foreign-data wrapper", re.IGNORECASE)
# A role the backup names where --no-owner --no-acl still need it (a policy's `TO role`) and this server lacks:
# the server's doing, not the backup's.
MISSING_ROLE = re.compile(r'role "[^"]+" does not exist')


@dataclass(frozen=True)
class Loader:
    """The login that loads a backup into `target`'s databases, and how it authenticates."""

    target: ConnectionOptions  # with its password; dbname is set per use with with_dbname()
    superuser: bool
    identity: identity.ServerIdentity

    @property
    def role(self) -> str:
        return self.target.user


def role_name() -> str:
    return settings.LIFEBOAT_RESTORE_ROLE


def role_password() -> str:
    """The restore role's password, from the variable named by LIFEBOAT_RESTORE_PASSWORD_ENV ('' when unset)."""
    name = settings.LIFEBOAT_RESTORE_PASSWORD_ENV
    return os.environ.get(name, "") if name else ""


def as_restore_role(server: ConnectionOptions) -> ConnectionOptions:
    """The same server and libpq options (TLS included), logged in as the restore role."""
    return replace(server, user=role_name(), password=role_password())


def check_role(conn: psycopg.Connection, role: str, where: str) -> None:
    row = conn.execute(ROLE_SQL, (role,)).fetchone()
    if row is None:
        raise ConfigurationError(f"the restore role {role} does not exist on {where}: run `manage.py "
                                 f"setup_database_roles --dsn postgresql://SUPERUSER@{where}/postgres` "
                                 "(or set LIFEBOAT_RESTORE_ROLE)")
    super_, createrole, login = row
    if super_ or createrole:
        raise ConfigurationError(f"the restore role {role} on {where} is {'superuser' if super_ else 'CREATEROLE'}: "
                                 "a restore role must not be; run `manage.py setup_database_roles` to fix it")
    if not login:
        raise ConfigurationError(f"the restore role {role} on {where} cannot log in (NOLOGIN)")


def isolated_reason(ident: identity.ServerIdentity) -> str | None:
    """Why a superuser restore is refused on this server, or None when an Admin declared it isolated."""
    from backups.models import Server

    shared = identity.shares_server_with_protected(ident)
    if shared:
        return f"it also holds protected databases ({', '.join(shared[:5])})"
    if settings.LIFEBOAT_VERIFY_ISOLATED and settings.LIFEBOAT_VERIFY_DSN:
        verify = ConnectionOptions.parse(settings.LIFEBOAT_VERIFY_DSN, password=password_from_env(
            settings.LIFEBOAT_VERIFY_PASSWORD_ENV, "LIFEBOAT_VERIFY_DSN"))
        try:
            if identity.ask(verify).system_identifier == ident.system_identifier:
                return None
        except LifeboatError:
            pass
    for marked in Server.objects.filter(isolated=True):
        try:
            seen = identity.ask(marked.connection_options())
        except LifeboatError:
            continue
        if seen.system_identifier == ident.system_identifier:
            return None
    return "no Admin marked it isolated (a Server marked isolated, or LIFEBOAT_VERIFY_ISOLATED for LIFEBOAT_VERIFY_DSN)"


def loader_for(server: ConnectionOptions, *, superuser: bool = False) -> Loader:
    """The restricted role on `server` (checked), or with superuser=True Lifeboat's own login if the server is
    isolated (refused otherwise)."""
    server = server.with_dbname("postgres")
    with server.connect() as conn:
        ident = identity.identity_of(conn)
        if not superuser:
            check_role(conn, role_name(), f"{server.host}:{server.port}")
    if superuser:
        reason = isolated_reason(ident)
        if reason:
            raise ConfigurationError(f"a superuser restore on {server.host}:{server.port} is refused: {reason}")
        return Loader(server, True, ident)
    return Loader(as_restore_role(server), False, ident)


def verification_isolated() -> bool:
    """Whether an Admin declared the verification server (LIFEBOAT_VERIFY_DSN) isolated."""
    return bool(settings.LIFEBOAT_VERIFY_ISOLATED and settings.LIFEBOAT_VERIFY_DSN)


def verification_loader(server: ConnectionOptions) -> Loader:
    """Verification: superuser only where LIFEBOAT_VERIFY_ISOLATED declares the server isolated."""
    if verification_isolated():
        try:
            return loader_for(server, superuser=True)
        except ConfigurationError:
            pass  # declared isolated but holding a protected database: the restricted role it is
    return loader_for(server)


def create_database_for(loader: Loader, admin: ConnectionOptions, name: str) -> None:
    """CREATE DATABASE as Lifeboat's login, owned by the loader (so it can create schemas and objects there)."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if not loader.superuser:
        query += sql.SQL(" OWNER {}").format(sql.Identifier(loader.role))
    with admin.connect(dbname="postgres") as conn:
        conn.execute(query)


def superuser_objects(listing: str) -> list[str]:
    """Entries of a `pg_restore --list` only a superuser can restore, e.g. 'EVENT TRIGGER - audit_ddl'."""
    found = []
    for line in listing.splitlines():
        match = TOC_ENTRY.match(line.strip())
        if not match:
            continue
        rest = match.group("rest")
        for kind in SUPERUSER_TYPES:
            if rest.startswith(kind + " "):
                found.append(" ".join(rest.split()[:-1]) if kind != "USER MAPPING" else rest)
    return found


def extensions_needing_superuser(listing: str, conn: psycopg.Connection) -> list[str]:
    """EXTENSION entries the restricted role cannot create here: untrusted, or not installed on this server."""
    names = []
    for line in listing.splitlines():
        match = TOC_ENTRY.match(line.strip())
        if match and match.group("rest").startswith("EXTENSION "):
            names.append(match.group("rest").split()[2])
    blocked = []
    for name in names:
        row = conn.execute("SELECT bool_or(trusted) OR NOT bool_or(superuser) FROM pg_available_extension_versions "
                           "WHERE name = %s", (name,)).fetchone()
        if row is None or row[0] is None:
            blocked.append(f"EXTENSION {name} (not installed on this server)")
        elif not row[0]:
            blocked.append(f"EXTENSION {name} (untrusted)")
    return blocked


def not_restorable_by(loader: Loader, listing: str) -> list[str]:
    """What in this backup the loader cannot create (nothing for a superuser)."""
    if loader.superuser:
        return []
    with loader.target.connect(dbname="postgres") as conn:
        return superuser_objects(listing) + extensions_needing_superuser(listing, conn)


def classify(error: RestoreFailed, loader: Loader) -> RestoreFailed:
    """A restricted restore refused for lack of rights, or a restore missing a role the backup names, becomes
    NotVerifiableHere; anything else stays a failure."""
    if not loader.superuser and NEEDS_SUPERUSER.search(str(error)):
        return NotVerifiableHere(f"not verifiable here: {error} (the restore role {loader.role} may not create it; "
                                 "verify on an isolated server)")
    if MISSING_ROLE.search(str(error)):
        return NotVerifiableHere(f"not verifiable here: {error} (this server lacks a role the backup names: create "
                                 "the backup's roles there first, e.g. `restore --with-globals`, or verify where "
                                 "they exist)")
    return error


HAND_OVER_SQL = """
SELECT format('ALTER SCHEMA %%I OWNER TO %%I', nspname, %(owner)s::text) FROM pg_namespace
WHERE nspowner = %(role)s::text::regrole
UNION ALL
SELECT format('ALTER TABLE %%s OWNER TO %%I', c.oid::regclass, %(owner)s::text) FROM pg_class c
WHERE c.relowner = %(role)s::text::regrole
  AND (c.relkind IN ('r', 'p', 'v', 'm', 'f') OR (c.relkind = 'S' AND NOT EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))))
UNION ALL
SELECT format('ALTER ROUTINE %%s OWNER TO %%I', p.oid::regprocedure, %(owner)s::text) FROM pg_proc p
WHERE p.proowner = %(role)s::text::regrole
UNION ALL
SELECT format('ALTER TYPE %%s OWNER TO %%I', t.oid::regtype, %(owner)s::text) FROM pg_type t
WHERE t.typowner = %(role)s::text::regrole AND t.typtype IN ('d', 'e', 'r', 'c') AND t.typelem = 0
  AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
UNION ALL
SELECT format('ALTER COLLATION %%s OWNER TO %%I', oid::regcollation, %(owner)s::text) FROM pg_collation
WHERE collowner = %(role)s::text::regrole
UNION ALL
SELECT format('ALTER TEXT SEARCH CONFIGURATION %%s OWNER TO %%I', oid::regconfig, %(owner)s::text) FROM pg_ts_config
WHERE cfgowner = %(role)s::text::regrole
UNION ALL
SELECT format('ALTER TEXT SEARCH DICTIONARY %%s OWNER TO %%I', oid::regdictionary, %(owner)s::text) FROM pg_ts_dict
WHERE dictowner = %(role)s::text::regrole
UNION ALL
SELECT format('ALTER PUBLICATION %%I OWNER TO %%I', pubname, %(owner)s::text) FROM pg_publication
WHERE pubowner = %(role)s::text::regrole
UNION ALL
SELECT format('ALTER LARGE OBJECT %%s OWNER TO %%I', oid, %(owner)s::text) FROM pg_largeobject_metadata
WHERE lomowner = %(role)s::text::regrole
"""
LEFT_OVER_SQL = """
SELECT count(*) FROM pg_shdepend WHERE refobjid = %s::regrole AND deptype = 'o'
  AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def check_owner(admin: ConnectionOptions, owner: str) -> None:
    """A restored database may be handed to an existing ordinary role only: given to a superuser, its SECURITY
    DEFINER functions (written by whoever owned them in the source) would run as superuser."""
    with admin.connect(dbname="postgres") as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (owner,)).fetchone()
    if row is None:
        raise ConfigurationError(f"role {owner} does not exist on {admin.host}:{admin.port}")
    if row[0]:
        raise ConfigurationError(f"refused to hand the restored objects to {owner}: it is superuser, and the "
                                 "backup's SECURITY DEFINER functions would run with its rights")


def hand_over(admin: ConnectionOptions, dbname: str, role: str, owner: str, *, public_schema: bool = False) -> str:
    """Give the restored database and what the restore role created in it to `owner` (as Lifeboat's login, which
    runs no code from the backup: ALTER ... OWNER calls no function). Returns a line for the log.

    `public_schema`: the backup lists the public schema, which pg_dump 15+ does only when a role owned it (a
    database made before PostgreSQL 15). --no-owner left it with the default owner, pg_database_owner: it goes to
    `owner` too, as in the source."""
    with admin.connect(dbname=dbname) as conn:
        statements = [row[0] for row in conn.execute(HAND_OVER_SQL, {"role": role, "owner": owner}).fetchall()]
        if public_schema and conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'public' "
                                          "AND nspowner = 'pg_database_owner'::regrole").fetchone():
            statements.append(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner)))
        for statement in statements:
            conn.execute(statement)
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(dbname), sql.Identifier(owner)))
        left = conn.execute(LEFT_OVER_SQL, (role,)).fetchone()[0]
    note = f"{len(statements)} objects and the database handed over from {role} to {owner}"
    return note + (f"; {left} objects still owned by {role}" if left else "")
