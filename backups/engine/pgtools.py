"""PostgreSQL client plumbing: finding the binaries, their versions, DSNs and connections.

Arguments are always lists and secrets always travel in the environment (PGPASSWORD/PGPASSFILE), never in argv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
from django.conf import settings

from backups.errors import ConfigurationError, SourceUnreachable


@cache
def pg_binary(name: str) -> str:
    """Absolute path of a PostgreSQL client program, preferring the newest installed major version."""
    configured = getattr(settings, "LIFEBOAT_PG_BIN", "")
    if configured:
        candidate = Path(configured) / name
        if candidate.exists():
            return str(candidate)
        raise ConfigurationError(f"{name} not found in LIFEBOAT_PG_BIN={configured}")
    versioned = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versioned:
        return str(versioned[-1])
    found = shutil.which(name)
    if found:
        return found
    raise ConfigurationError(f"{name} is not installed (install the PostgreSQL client, or set LIFEBOAT_PG_BIN)")


@cache
def client_version(name: str = "pg_dump") -> str:
    """'pg_dump (PostgreSQL) 15.20 (Debian ...)' -> '15.20'."""
    out = subprocess.run([pg_binary(name), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+(?:\.\d+)*)", out)
    return match.group(1) if match else out.strip()


def major(version: str) -> tuple[int, ...]:
    """The major version: (15,) for 15.20, but (9, 6) for 9.6.24, since before 10 it had two parts."""
    parts = [int(p) for p in version.split(".") if p.isdigit()]
    return tuple(parts[:2]) if parts and parts[0] < 10 else tuple(parts[:1])


@dataclass(frozen=True)
class Target:
    """A PostgreSQL connection target without secrets."""

    host: str
    port: int
    user: str
    dbname: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def with_dbname(self, dbname: str) -> Target:
        return Target(self.host, self.port, self.user, dbname)

    def conninfo(self, application_name: str = "lifeboat") -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=str(self.port), user=self.user, dbname=self.dbname,
            application_name=application_name, connect_timeout="10",
        )

    def cli_args(self) -> list[str]:
        """Connection options for pg_dump/pg_restore/psql (dbname passed separately)."""
        return ["--host", self.host, "--port", str(self.port), "--username", self.user, "--no-password"]


_SAFE_IDENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]*$")
_SAFE_HOST = re.compile(r"^[A-Za-z0-9_.:/\[\]-]+$")


def parse_dsn(dsn: str) -> Target:
    """Parse postgresql://USER@HOST:PORT/DBNAME. A password in it is refused: secrets never reach our records."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(f"malformed DSN {dsn!r}: expected postgresql://USER@HOST:PORT/DBNAME")
    if parts.password is not None:
        raise ConfigurationError(
            "the DSN contains a password; Lifeboat never stores passwords. "
            "Remove it and pass --password-env VAR (or use a pgpass file)"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise ConfigurationError(f"malformed DSN {dsn!r}: the port is not a number") from None
    host = unquote(parts.hostname or "")
    user = unquote(parts.username or "")
    dbname = unquote(parts.path.lstrip("/"))
    if not host or not user or not dbname:
        raise ConfigurationError(
            f"malformed DSN {dsn!r}: expected postgresql://USER@HOST:PORT/DBNAME (user, host and database needed)"
        )
    for label, value, pattern in (("host", host, _SAFE_HOST), ("user", user, _SAFE_IDENT),
                                  ("database", dbname, _SAFE_IDENT)):
        if not pattern.match(value):
            raise ConfigurationError(f"malformed DSN: {label} {value!r} contains characters Lifeboat does not accept")
    return Target(host=host, port=port, user=user, dbname=dbname)


def connect(target: Target, env: dict[str, str] | None = None, *, autocommit: bool = True,
            application_name: str = "lifeboat") -> psycopg.Connection:
    """Connect with the secret from env (PGPASSWORD/PGPASSFILE) without touching os.environ."""
    kwargs: dict[str, str] = {}
    env = env or {}
    if "PGPASSWORD" in env:
        kwargs["password"] = env["PGPASSWORD"]
    if "PGPASSFILE" in env:
        kwargs["passfile"] = env["PGPASSFILE"]
    try:
        return psycopg.connect(target.conninfo(application_name), autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        message = " ".join(str(exc).split())
        raise SourceUnreachable(f"cannot connect to {target.dsn}: {message}") from None


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment for a libpq program, minus any stray PG* variables that could redirect it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(extra or {})
    return env


def server_version(conn: psycopg.Connection) -> str:
    """'15.20' from server_version_num 150020 (and '9.6.24' from 90624)."""
    num = conn.info.server_version
    if num >= 100000:
        return f"{num // 10000}.{num % 10000}"
    return f"{num // 10000}.{(num // 100) % 100}.{num % 100}"


def check_client_not_older(server: str, client: str, program: str = "pg_dump") -> None:
    if major(client) < major(server):
        raise ConfigurationError(
            f"{program} {client} is older than the server ({server}); a dump taken this way may be incomplete. "
            f"Install the PostgreSQL {'.'.join(map(str, major(server)))} client (or newer) or set LIFEBOAT_PG_BIN"
        )


def validate_dbname(name: str, label: str = "database name") -> str:
    if not _SAFE_IDENT.match(name) or len(name) > 63:
        raise ConfigurationError(f"{label} {name!r} is not accepted: use letters, digits, '_', '.', '$' or '-'")
    return name
