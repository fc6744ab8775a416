"""How Lifeboat reaches a PostgreSQL server: one immutable set of libpq connection options per target.

A DSN is parsed by libpq itself (psycopg's `conninfo_to_dict`), so every libpq option it names (`sslmode`,
`sslrootcert`, `connect_timeout`, `target_session_attrs`, `options`...) is kept and reaches every client program
(as a conninfo string in `--dbname`, never through a shell) and every psycopg connection. Ambient `PG*` variables
are never read: a child process gets the environment without them, plus the password, which travels only there.

Refused, with a one-line error: a password, `sslpassword` or other secret in the DSN (secrets come from an
environment variable or a pgpass file), control characters (a newline cannot be shown, logged or passed to a
program faithfully), `service`/`servicefile` (options read from a file outside the DSN), `sslkeylogfile`, more
than one host, and file options (`sslrootcert`, `sslcert`, `sslkey`, `sslcrl`, `sslcrldir`, `passfile`) outside
LIFEBOAT_PG_CERT_DIR.
Lifeboat names its own sessions (the reaper finds a run's pg_dump by `application_name`): a DSN's is ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

import psycopg
from django.conf import settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from backups.errors import ConfigurationError, SourceUnreachable

DEFAULT_PORT = 5432
DEFAULT_CONNECT_TIMEOUT = "10"
IDENTITY_KEYS = ("host", "port", "user", "dbname")
SECRET_KEYS = frozenset({"password", "sslpassword", "scram_client_key", "scram_server_key", "oauth_client_secret"})
FILE_KEYS = frozenset({"sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "passfile"})
# Options read from a file outside the DSN, or that write TLS session keys to one.
REFUSED_KEYS = frozenset({"service", "servicefile", "sslkeylogfile"})
LIFEBOAT_OWNED_KEYS = frozenset({"application_name", "fallback_application_name"})
# libpq's special sslrootcert value: the operating system's trusted roots, not a file of ours.
SYSTEM_ROOTS = "system"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_IDENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]*$")
_SAFE_HOST = re.compile(r"^[A-Za-z0-9_.:/\[\]-]+$")
_EXAMPLE = "postgresql://USER@HOST:PORT/DBNAME?sslmode=verify-full&sslrootcert=/path/ca.pem"


@dataclass(frozen=True)
class ConnectionOptions:
    """A PostgreSQL target: who, where, which database, the DSN's other libpq options, and the secret.

    `params` holds the DSN's libpq options other than host/port/user/dbname, in DSN order, already checked.
    `password` is never shown (repr), recorded (`dsn`) or put in argv (`conninfo`): only in `env()` and
    `connect()`.
    """

    host: str
    port: int
    user: str
    dbname: str
    params: tuple[tuple[str, str], ...] = ()
    password: str = field(default="", repr=False, compare=False)

    @classmethod
    def parse(cls, dsn: str, *, password: str = "") -> ConnectionOptions:
        """A DSN (URI or key=value form) -> options; ConfigurationError with a one-line reason if unusable."""
        values = _parse(dsn)
        missing = [label for key, label in (("user", "user"), ("host", "host"), ("dbname", "database"))
                   if not values.get(key)]
        if missing:
            raise ConfigurationError(f"malformed DSN: no {', '.join(missing)} (expected {_EXAMPLE})")
        identity = _identity(values)
        params = tuple((k, v) for k, v in values.items() if k not in IDENTITY_KEYS)
        return cls(*identity, params=params, password=password)

    @classmethod
    def build(cls, host: str, port: int, user: str, dbname: str, query: str = "", *, password: str = "",
              passfile: str = "") -> ConnectionOptions:
        """From a model's fields; `query` is the options part of a DSN (`sslmode=require&connect_timeout=5`).

        `passfile` is the model's own pgpass field, a path the operator configured, so it is not held to the
        certificate directory rule (a DSN's `passfile` option is).
        """
        params = parse_query(query)
        if passfile:
            params = (*[(k, v) for k, v in params if k != "passfile"], ("passfile", passfile))
        return cls(host, int(port), user, dbname, params=params, password=password)

    # -- what may be shown and recorded ---------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """The target as a URI without any secret, safe to show and to record."""
        return format_dsn(self.host, self.port, self.user, self.dbname, self.params)

    @property
    def server_label(self) -> str:
        """The server alone, for records that name where something ran: postgresql://USER@HOST:PORT."""
        return f"postgresql://{quote(self.user, safe='')}@{_uri_host(self.host)}:{self.port}"

    @property
    def query(self) -> str:
        """The options part of the DSN, as stored in a model's `libpq_options` field."""
        return urlencode(self.params, safe="/", quote_via=quote)

    def option(self, key: str, default: str = "") -> str:
        return dict(self.params).get(key, default)

    def with_dbname(self, dbname: str) -> ConnectionOptions:
        return replace(self, dbname=dbname)

    def with_session_options(self, extra: str) -> ConnectionOptions:
        """The same target with `extra` (`-c name=value ...`) after the DSN's own libpq `options`."""
        options = " ".join(filter(None, (self.option("options"), extra)))
        return replace(self, params=(*[(k, v) for k, v in self.params if k != "options"], ("options", options)))

    # -- how clients use it ---------------------------------------------------------------------------------

    def conninfo(self, *, dbname: str | None = None, application_name: str = "lifeboat") -> str:
        """A libpq conninfo string (no password): every option of the DSN plus the session's name."""
        values = {"host": self.host, "port": str(self.port), "user": self.user, "dbname": dbname or self.dbname,
                  "connect_timeout": DEFAULT_CONNECT_TIMEOUT, **dict(self.params),
                  "application_name": application_name}
        return make_conninfo(**values)

    def cli_args(self, *, dbname: str | None = None, application_name: str = "lifeboat") -> list[str]:
        """Arguments for pg_dump, pg_dumpall, pg_restore and psql: the conninfo as `--dbname`, never a prompt.

        (pg_dumpall ignores the database in it: give it `--database=NAME` as well.)
        """
        return [f"--dbname={self.conninfo(dbname=dbname, application_name=application_name)}", "--no-password"]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a libpq child process: `base` (default os.environ) without any PG* variable,
        so nothing ambient redirects it, plus PGPASSWORD when there is a password."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("PG")}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, *, dbname: str | None = None, autocommit: bool = True,
                application_name: str = "lifeboat") -> psycopg.Connection:
        """A psycopg connection; SourceUnreachable with libpq's reason on one line if it cannot be made."""
        conninfo = self.conninfo(dbname=dbname, application_name=application_name)
        secret = {"password": self.password} if self.password else {}
        try:
            return psycopg.connect(make_conninfo(conninfo, **_ambient_neutralized(conninfo)),
                                   autocommit=autocommit, **secret)
        except psycopg.OperationalError as exc:
            message = " ".join(str(exc).split())
            raise SourceUnreachable(f"cannot connect to {self.with_dbname(dbname or self.dbname).dsn}: "
                                    f"{message}") from None


@dataclass(frozen=True)
class DatabaseFacts:
    """What `probe` learnt about a database: proof that the DSN answers, shown when it is added."""

    server_version: str
    size_bytes: int
    tables: int


PROBE_SQL = """
SELECT pg_database_size(current_database()),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema'))
"""


def probe(options: ConnectionOptions, application_name: str = "lifeboat-check") -> DatabaseFacts:
    """Connect and describe the database; SourceUnreachable (libpq's reason: a wrong host, a database that does
    not exist, a certificate that does not verify) when it cannot."""
    with options.connect(application_name=application_name) as conn:
        size, tables = conn.execute(PROBE_SQL).fetchone()
        return DatabaseFacts(server_version(conn), size, tables)


def server_version(conn: psycopg.Connection) -> str:
    """'15.20' from server_version_num 150020 (and '9.6.24' from 90624)."""
    num = conn.info.server_version
    if num >= 100000:
        return f"{num // 10000}.{num % 10000}"
    return f"{num // 10000}.{(num // 100) % 100}.{num % 100}"



def _ambient_neutralized(conninfo: str) -> dict[str, str]:
    """libpq in this process reads PG* variables for every option the conninfo leaves out (a child process gets
    an environment without them): pin each such option to libpq's built-in default instead. (PGSERVICE cannot be
    pinned: libpq looks any value up, so a stray one fails the connection loudly rather than redirecting it.)"""
    given = conninfo_to_dict(conninfo).keys()
    pinned: dict[str, str] = {}
    for option in psycopg.pq.Conninfo.get_defaults():
        keyword = option.keyword.decode()
        if option.envvar and option.envvar.decode() in os.environ and keyword not in given | {"service"}:
            pinned[keyword] = option.compiled.decode() if option.compiled is not None else _UNSET.get(keyword, "")
    return pinned


# Built-in behaviour of options that have no compiled default and refuse an empty value.
_UNSET = {"sslcertmode": "allow", "min_protocol_version": "3.0", "max_protocol_version": "3.0"}


def password_from_env(name: str, owner: str) -> str:
    """The password held in environment variable `name` ('' when no variable is configured)."""
    if not name:
        return ""
    value = os.environ.get(name)
    if value is None:
        raise ConfigurationError(f"environment variable {name} (password of {owner}) is not set")
    return value


def parse_query(query: str) -> tuple[tuple[str, str], ...]:
    """A model's `libpq_options` (`sslmode=verify-full&sslrootcert=/certs/ca.pem`) -> checked options."""
    if not query.strip():
        return ()
    values = _parse(f"postgresql://lifeboat@localhost/lifeboat?{query.strip().lstrip('?')}")
    return tuple((k, v) for k, v in values.items() if k not in IDENTITY_KEYS)


def format_dsn(host: str, port: int, user: str, dbname: str, params: tuple[tuple[str, str], ...] | str = ()) -> str:
    """postgresql://USER@HOST:PORT/DBNAME?OPTIONS; `params` may be a stored query string (not re-checked)."""
    if isinstance(params, str):
        params = tuple(parse_qsl(params.lstrip("?"), keep_blank_values=True))
    query = urlencode(params, safe="/", quote_via=quote)
    base = f"postgresql://{quote(user, safe='')}@{_uri_host(host)}:{port}/{quote(dbname, safe='')}"
    return f"{base}?{query}" if query else base


def split_dsn(dsn: str) -> tuple[str, int, str, str, str]:
    """A DSN -> (host, port, user, dbname, libpq_options query) for a model's fields, all checked."""
    options = ConnectionOptions.parse(dsn)
    return options.host, options.port, options.user, options.dbname, options.query


# -- parsing ------------------------------------------------------------------------------------------------


def _parse(dsn: str) -> dict[str, str]:
    if _CONTROL.search(dsn):
        raise ConfigurationError("the DSN contains a control character (a newline?); remove it")
    try:
        values = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise ConfigurationError(f"malformed DSN: {' '.join(str(exc).split())} (expected {_EXAMPLE})") from None
    values = {k: str(v) for k, v in values.items()}
    secrets = sorted(SECRET_KEYS & values.keys())
    if secrets:
        raise ConfigurationError(
            f"the DSN contains a {secrets[0]}; Lifeboat never stores passwords. "
            "Remove it and pass --password-env VAR (or use a pgpass file)"
        )
    for key, value in values.items():
        if _CONTROL.search(value):
            raise ConfigurationError(f"the DSN's {key} contains a control character (a newline?); remove it")
    refused = sorted(REFUSED_KEYS & values.keys())
    if refused:
        raise ConfigurationError(f"the DSN option {refused[0]} is not accepted: name every option in the DSN itself")
    for key in LIFEBOAT_OWNED_KEYS:
        values.pop(key, None)  # Lifeboat names its sessions itself
    for key in sorted(FILE_KEYS & values.keys()):
        _check_file_option(key, values[key])
    if values.get("host") or values.get("port"):
        _identity(values)  # host/port are checked as soon as given
    return values


def _identity(values: dict[str, str]) -> tuple[str, int, str, str]:
    host, user, dbname = values.get("host", ""), values.get("user", ""), values.get("dbname", "")
    if "," in host or "," in values.get("port", ""):
        raise ConfigurationError("the DSN names more than one host; Lifeboat connects to one server per DSN")
    port_text = values.get("port") or str(DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"malformed DSN: the port is not a number from 1 to 65535 ({port_text!r})")
    for label, value, pattern in (("host", host, _SAFE_HOST), ("user", user, _SAFE_IDENT),
                                  ("database", dbname, _SAFE_IDENT)):
        if value and not pattern.match(value):
            raise ConfigurationError(f"malformed DSN: {label} {value!r} contains characters Lifeboat does not accept")
    return host, int(port_text), user, dbname


def _check_file_option(key: str, value: str) -> None:
    if key == "sslrootcert" and value == SYSTEM_ROOTS:
        return
    root = getattr(settings, "LIFEBOAT_PG_CERT_DIR", "")
    if not root:
        raise ConfigurationError(f"the DSN option {key} names a file: set LIFEBOAT_PG_CERT_DIR to the directory "
                                 "that holds PostgreSQL certificates and keys")
    path = Path(value)
    if not path.is_absolute():
        raise ConfigurationError(f"the DSN option {key}={value} must be an absolute path under LIFEBOAT_PG_CERT_DIR")
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise ConfigurationError(f"the DSN option {key}={value} is outside LIFEBOAT_PG_CERT_DIR ({root})")


def _uri_host(host: str) -> str:
    if host.startswith("/"):
        return quote(host, safe="")  # a socket directory
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
