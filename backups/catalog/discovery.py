"""Auto-discovery: protect every database on a server except templates, the databases Lifeboat itself makes
(verification scratch, drill restores) and the excluded ones. Runs hourly (before the nightly runs) and from
`discover_databases`; new databases get the server's RPO and schedule. A discovered database that disappears
from its server is disabled, not deleted: its backups still matter, but its schedule would only fail."""

from __future__ import annotations

import logging
import re

from django.utils import timezone

from audit import trail
from backups.engine import pgtools
from backups.errors import LifeboatError
from backups.models import NAME_RE, Database, Server
from backups.proof.verification import SCRATCH_PREFIX
from backups.recovery import identity

log = logging.getLogger(__name__)

LIST_SQL = "SELECT datname, oid::int FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname"
# Databases Lifeboat creates and drops by itself: protecting them would only schedule failures.
OWN_PREFIXES = (SCRATCH_PREFIX, "lifeboat_drill_")


def server_databases(server: Server) -> tuple[identity.ServerIdentity, dict[str, int]]:
    """The server's identity and its databases (name -> oid): a discovered database is recognised by them from the
    start, before its first backup records them again."""
    with server.connection_options().connect(application_name="lifeboat-discovery") as conn:
        return identity.identity_of(conn), dict(conn.execute(LIST_SQL).fetchall())


def _free_name(server: Server, dbname: str) -> str | None:
    for name in (dbname, f"{server.name}.{dbname}"):
        if re.match(NAME_RE, name) and not Database.objects.filter(name=name).exists():
            return name
    return None


def discover(server: Server) -> list[Database]:
    """Add a protected Database for every database on the server not yet protected; returns the new ones."""
    known = set(Database.objects.filter(port=server.port, host=server.host).values_list("dbname", flat=True))
    seen, present = server_databases(server)
    _disable_vanished(server, set(present))
    added = []
    for dbname in present:
        if dbname in known or dbname.startswith(OWN_PREFIXES) or server.is_excluded(dbname):
            continue
        name = _free_name(server, dbname)
        if name is None or not re.match(pgtools._SAFE_IDENT, dbname):
            log.warning("server %s: database %r skipped: no usable name for it", server, dbname)
            continue
        database = Database.objects.create(
            name=name, host=server.host, port=server.port, user=server.user, dbname=dbname, server=server,
            password_env=server.password_env, passfile=server.passfile, libpq_options=server.libpq_options,
            rpo_hours=server.rpo_hours, schedule=server.schedule, system_identifier=seen.system_identifier,
            server_port_seen=seen.port, database_oid=present[dbname], identity_seen_at=timezone.now(),
        )
        trail.record("config.database.discovered", target=database,
                     summary=f"database {dbname} found on server {server.name} and protected",
                     details={"server": server.name, "dsn": database.dsn, "schedule": database.schedule})
        added.append(database)
    return added


def _disable_vanished(server: Server, present: set[str]) -> None:
    for database in server.databases.filter(enabled=True).exclude(dbname__in=present):
        database.enabled = False
        database.save(update_fields=["enabled", "updated_at"])  # also drops its schedule (receivers)
        trail.record("config.database.vanished", target=database,
                     summary=f"database {database.dbname} is gone from server {server.name}: schedule disabled",
                     details={"server": server.name, "dsn": database.dsn})


def discover_all() -> dict[str, list[str] | str]:
    """Every server with discovery on; one unreachable server does not stop the others."""
    outcome: dict[str, list[str] | str] = {}
    for server in Server.objects.filter(discover=True):
        try:
            outcome[server.name] = [d.name for d in discover(server)]
        except LifeboatError as exc:
            log.warning("discovery on %s failed: %s", server, exc)
            outcome[server.name] = f"error: {exc}"
    return outcome
