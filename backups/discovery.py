"""Auto-discovery: protect every database on a server except templates, Lifeboat's scratch databases and the
excluded ones. Runs hourly (before the nightly runs) and from `discover_databases`; new databases get the
server's RPO and schedule. A database that disappears from its server is kept (its backups still matter)."""

from __future__ import annotations

import logging
import re

from backups import pgtools
from backups.errors import LifeboatError
from backups.models import NAME_RE, Database, Server
from backups.verification import SCRATCH_PREFIX
from dashboard import audit

log = logging.getLogger(__name__)

LIST_SQL = "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname"


def server_databases(server: Server) -> list[str]:
    target = pgtools.Target(server.host, server.port, server.user, "postgres")
    with pgtools.connect(target, server.libpq_env(), application_name="lifeboat-discovery") as conn:
        return [row[0] for row in conn.execute(LIST_SQL)]


def _free_name(server: Server, dbname: str) -> str | None:
    for name in (dbname, f"{server.name}.{dbname}"):
        if re.match(NAME_RE, name) and not Database.objects.filter(name=name).exists():
            return name
    return None


def discover(server: Server) -> list[Database]:
    """Add a protected Database for every database on the server not yet protected; returns the new ones."""
    known = set(Database.objects.filter(port=server.port, host=server.host).values_list("dbname", flat=True))
    added = []
    for dbname in server_databases(server):
        if dbname in known or dbname.startswith(SCRATCH_PREFIX) or server.is_excluded(dbname):
            continue
        name = _free_name(server, dbname)
        if name is None or not re.match(pgtools._SAFE_IDENT, dbname):
            log.warning("server %s: database %r skipped: no usable name for it", server, dbname)
            continue
        database = Database.objects.create(
            name=name, host=server.host, port=server.port, user=server.user, dbname=dbname, server=server,
            password_env=server.password_env, passfile=server.passfile, rpo_hours=server.rpo_hours,
            schedule=server.schedule,
        )
        audit.record("config.database.discovered", target=database,
                     summary=f"database {dbname} found on server {server.name} and protected",
                     details={"server": server.name, "dsn": database.dsn, "schedule": database.schedule})
        added.append(database)
    return added


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
