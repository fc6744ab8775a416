"""Which server, which database: asked of the server itself, never read from a host string.

`localhost`, `127.0.0.1`, a socket directory, a second address and a DNS name can all reach one server, so a
server is known by what it says about itself: the `system_identifier` of its cluster (pg_control_system()) and
its own port; a database by its oid on that server. A streaming replica or a file-level clone shares the
primary's system_identifier, so an equal identifier means "maybe the same server", and that is treated as the same:
refused. The identity of each protected database is recorded at every backup (the source cannot be asked after
its server is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from django.db import connection as django_connection
from django.utils import timezone

from backups.conninfo import ConnectionOptions
from backups.errors import ConfigurationError, LifeboatError

IDENTITY_SQL = "SELECT system_identifier::text, current_setting('port')::int FROM pg_control_system()"


@dataclass(frozen=True)
class ServerIdentity:
    system_identifier: str
    port: int

    def maybe_same(self, system_identifier: str) -> bool:
        """Equal identifiers: the same cluster, or a replica or clone of it (which we cannot tell apart)."""
        return bool(system_identifier) and system_identifier == self.system_identifier


def identity_of(conn: psycopg.Connection) -> ServerIdentity:
    sysid, port = conn.execute(IDENTITY_SQL).fetchone()
    return ServerIdentity(sysid, port)


def database_oid(conn: psycopg.Connection, name: str) -> int | None:
    row = conn.execute("SELECT oid::int FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row[0] if row else None


def ask(server: ConnectionOptions) -> ServerIdentity:
    with server.connect(dbname="postgres") as conn:
        return identity_of(conn)


def record_for_backup(run, conn: psycopg.Connection) -> None:
    """Note the source's identity on the run and on its database (the newest known), at every backup."""
    conn.execute("SAVEPOINT lifeboat_identity")  # a refusal must not abort the snapshot's transaction
    try:
        identity = identity_of(conn)
        oid = conn.execute("SELECT oid::int FROM pg_database WHERE datname = current_database()").fetchone()[0]
    except psycopg.Error as exc:
        conn.execute("ROLLBACK TO SAVEPOINT lifeboat_identity")
        run.append_log(f"the server's identity could not be read: {' '.join(str(exc).split())}")
        return
    conn.execute("RELEASE SAVEPOINT lifeboat_identity")
    run.server_system_identifier, run.server_port_seen, run.database_oid = identity.system_identifier, \
        identity.port, oid
    database = run.database
    database.system_identifier, database.server_port_seen, database.database_oid = identity.system_identifier, \
        identity.port, oid
    database.identity_seen_at = timezone.now()
    type(database).objects.filter(pk=database.pk).update(
        system_identifier=database.system_identifier, server_port_seen=identity.port, database_oid=oid,
        identity_seen_at=database.identity_seen_at)


def own_database() -> tuple[str, str, int] | None:
    """(system_identifier, name, oid) of Lifeboat's own database when it is PostgreSQL, else None."""
    if django_connection.vendor != "postgresql":
        return None
    with django_connection.cursor() as cur:
        cur.execute(IDENTITY_SQL)
        sysid = cur.fetchone()[0]
        cur.execute("SELECT current_database(), oid::int FROM pg_database WHERE datname = current_database()")
        name, oid = cur.fetchone()
    return sysid, name, oid


def protected_match(server: ConnectionOptions, dbname: str, *, allow=None) -> str | None:
    """Why `dbname` on `server` is (maybe) a database Lifeboat protects, or None when it is not.

    A protected database is any Database row, and Lifeboat's own database. It matches when the server's
    system_identifier equals the one recorded for it (or asked of its server now, if never recorded) and the name
    or the oid of the target database equals its own. `allow` is the one Database a --replace may take the place of.
    """
    from backups.models import Database

    with server.connect(dbname="postgres") as conn:
        identity = identity_of(conn)
        oid = database_oid(conn, dbname)
    if oid is None:
        return None  # nothing there to drop or overwrite (a dropped production database may be restored anew)
    own = own_database()
    if own and identity.maybe_same(own[0]) and (dbname == own[1] or oid == own[2]):
        return f"{dbname} is Lifeboat's own database (only restore_selfbackup --force may replace it)"
    for database in Database.objects.exclude(pk=getattr(allow, "pk", None)):
        sysid = database.system_identifier
        if not sysid:
            if database.dbname != dbname:
                continue
            try:
                sysid = ask(database.connection_options("postgres")).system_identifier
            except LifeboatError:
                return (f"{dbname} may be the protected database {database.name}: its server has never been "
                        f"identified and cannot be asked now")
        if not identity.maybe_same(sysid):
            continue
        if database.dbname == dbname or oid == database.database_oid:
            return (f"{dbname} on {server.host}:{server.port} is the protected database {database.name} (same "
                    f"server, or a replica or clone of it: system identifier {identity.system_identifier})")
    return None


def refuse_protected(server: ConnectionOptions, dbname: str, *, allow=None) -> None:
    reason = protected_match(server, dbname, allow=allow)
    if reason:
        raise ConfigurationError(f"refused: {reason}; restoring over it needs --replace, which keeps a forensic copy")


def shares_server_with_protected(identity: ServerIdentity) -> list[str]:
    """Names of protected databases whose recorded server is (maybe) this one."""
    from backups.models import Database

    return list(Database.objects.filter(system_identifier=identity.system_identifier)
                .values_list("name", flat=True))
