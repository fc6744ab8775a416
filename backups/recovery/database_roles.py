"""The PostgreSQL roles Lifeboat uses, created by one idempotent command (`manage.py setup_database_roles`).

Each role is a RoleSpec: its name and password variable come from settings, its attributes are fixed here, and it
belongs on some servers (the restore role on every server where Lifeboat restores: the verification server and the
servers restores and drills go to). Other roles (an owner role for migrations, a runtime role with only INSERT and
SELECT on the audit trail) are further RoleSpecs in ROLES, with their own `servers` and `grant` hooks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from psycopg import sql

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from backups.errors import ConfigurationError

# (pg_roles column, keyword when true, keyword when false)
ATTRIBUTES = {"rolsuper": ("SUPERUSER", "NOSUPERUSER"), "rolcreaterole": ("CREATEROLE", "NOCREATEROLE"),
              "rolcreatedb": ("CREATEDB", "NOCREATEDB"), "rolcanlogin": ("LOGIN", "NOLOGIN"),
              "rolreplication": ("REPLICATION", "NOREPLICATION"), "rolbypassrls": ("BYPASSRLS", "NOBYPASSRLS"),
              "rolinherit": ("INHERIT", "NOINHERIT")}


@dataclass(frozen=True)
class RoleSpec:
    key: str
    name: Callable[[], str]
    password_env: Callable[[], str]
    attributes: dict[str, bool]
    purpose: str
    # Extra grants once the role exists: (connection, role name, Lifeboat's logins on that server) -> lines saying
    # what was done.
    grant: Callable[[psycopg.Connection, str, list[str]], list[str]] | None = None
    servers: Callable[[], list[ConnectionOptions]] = field(default=lambda: [])


def _let_lifeboat_create_for(conn: psycopg.Connection, role: str, logins: list[str]) -> list[str]:
    """Lifeboat's login creates databases owned by the restore role: that needs membership unless superuser."""
    done = []
    for login in sorted(set(logins)):
        row = conn.execute("SELECT rolsuper, pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                           (role, login)).fetchone()
        if row is None:
            done.append(f"no role {login} here: not granted {role}")
        elif not any(row):
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(login)))
            done.append(f"granted {role} to {login} (so it can create databases owned by {role})")
    return done


def restore_servers() -> list[ConnectionOptions]:
    """The verification server, or (without one) each distinct server of a protected database, each reached as
    Lifeboat's login there (which must be allowed to create roles, else use --dsn with a superuser)."""
    from backups.models import Database
    from backups.proof.verification import verification_server_for

    found: dict[tuple[str, int], ConnectionOptions] = {}
    if settings.LIFEBOAT_VERIFY_DSN:
        target = verification_server_for(Database(name="-"))
        found[(target.host, target.port)] = target
    else:
        for database in Database.objects.all():
            found.setdefault((database.host, database.port), database.connection_options("postgres"))
    return list(found.values())


# The audit trail's tables: the runtime role appends events and moves the chain head, never rewrites events.
AUDIT_EVENTS, AUDIT_HEAD = "dashboard_auditevent", "dashboard_auditchainhead"


def own_database() -> list[ConnectionOptions]:
    """Lifeboat's own database, as the login that owns its tables (DATABASE_URL), when it is PostgreSQL."""
    own = settings.DATABASES["default"]
    if "postgresql" not in own["ENGINE"]:
        return []
    return [ConnectionOptions.build(own.get("HOST") or "127.0.0.1", int(own.get("PORT") or 5432),
                                    own.get("USER") or "postgres", own["NAME"], password=own.get("PASSWORD") or "")]


def _runtime_grants(conn: psycopg.Connection, role: str, logins: list[str]) -> list[str]:
    """In Lifeboat's own database: read and write every table and sequence the owner made (now and in later
    migrations), except the audit events: INSERT and SELECT only. Owning nothing, the role cannot ALTER TABLE
    (disable the triggers) or TRUNCATE."""
    own = settings.DATABASES["default"]
    if not own_database():
        return ["Lifeboat's own database is not PostgreSQL: no runtime grants to make"]
    ident, database = sql.Identifier(role), sql.Identifier(own["NAME"])
    target = own_database()[0]
    with target.connect(dbname=own["NAME"]) as db:
        owner = db.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", (AUDIT_EVENTS,)).fetchone()
        if owner is None:
            return [f"no audit table in {own['NAME']} yet: run migrate first, then setup_database_roles again"]
        owner_ident = sql.Identifier(owner[0])
        for statement in (
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(database, ident),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident),
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(ident),
            sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident),
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
                    "ON TABLES TO {}").format(owner_ident, ident),
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT USAGE, SELECT, UPDATE "
                    "ON SEQUENCES TO {}").format(owner_ident, ident),
            sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {} FROM {}").format(
                sql.Identifier(AUDIT_EVENTS), ident),
            sql.SQL("REVOKE DELETE, TRUNCATE, REFERENCES, TRIGGER ON {} FROM {}").format(
                sql.Identifier(AUDIT_HEAD), ident),
        ):
            db.execute(statement)
    return [f"{role} may read and write {own['NAME']}'s tables (owned by {owner[0]}); on {AUDIT_EVENTS} only "
            "INSERT and SELECT"]


ROLES: list[RoleSpec] = [
    RoleSpec(
        key="restore",
        name=lambda: settings.LIFEBOAT_RESTORE_ROLE,
        password_env=lambda: settings.LIFEBOAT_RESTORE_PASSWORD_ENV,
        attributes={"rolsuper": False, "rolcreaterole": False, "rolcreatedb": False, "rolcanlogin": True,
                    "rolreplication": False, "rolbypassrls": False, "rolinherit": True},
        purpose="loads backups during verification, restores and drills (never superuser)",
        grant=_let_lifeboat_create_for,
        servers=restore_servers,
    ),
    RoleSpec(
        key="runtime",
        name=lambda: settings.LIFEBOAT_RUNTIME_ROLE,
        password_env=lambda: settings.LIFEBOAT_RUNTIME_PASSWORD_ENV,
        attributes={"rolsuper": False, "rolcreaterole": False, "rolcreatedb": False, "rolcanlogin": True,
                    "rolreplication": False, "rolbypassrls": False, "rolinherit": True},
        purpose="the dashboard's and workers' login to Lifeboat's own database (append-only audit trail)",
        grant=_runtime_grants,
        servers=own_database,
    ),
]


def ensure_role(conn: psycopg.Connection, spec: RoleSpec, logins: list[str] | None = None) -> list[str]:
    """Create or correct one role on the connected server; returns what was done, one line each."""
    name = spec.name()
    pgtools.validate_dbname(name, "role name")
    wanted = sql.SQL(" ").join(sql.SQL(ATTRIBUTES[col][0 if on else 1]) for col, on in spec.attributes.items())
    columns = sql.SQL(", ").join(sql.Identifier(col) for col in spec.attributes)
    row = conn.execute(sql.SQL("SELECT {} FROM pg_roles WHERE rolname = %s").format(columns), (name,)).fetchone()
    done = []
    if row is None:
        conn.execute(sql.SQL("CREATE ROLE {} WITH ").format(sql.Identifier(name)) + wanted)
        done.append(f"created role {name} ({spec.purpose})")
    else:
        wrong = [ATTRIBUTES[col][0 if on else 1] for (col, on), have in zip(spec.attributes.items(), row, strict=True)
                 if have != on]
        if wrong:
            conn.execute(sql.SQL("ALTER ROLE {} WITH ").format(sql.Identifier(name)) + wanted)
            done.append(f"role {name} corrected: {' '.join(wrong)}")
        else:
            done.append(f"role {name} already as it should be")
    variable = spec.password_env()
    password = os.environ.get(variable) if variable else None
    if password:
        # Sent as a SCRAM verifier computed here, so the clear password never reaches the server's logs.
        verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(verifier)))
        done.append(f"password of {name} set from {variable}")
    else:
        done.append(f"no password set for {name} ({variable or 'no variable'} is empty): it authenticates as "
                    "pg_hba.conf allows (peer, cert, or a pgpass file)")
    if spec.grant:
        done += spec.grant(conn, name, logins if logins is not None else [conn.info.user])
    return done


def setup(specs: Iterable[RoleSpec] = ROLES, servers: list[ConnectionOptions] | None = None,
          logins: list[str] | None = None) -> list[str]:
    """Every role on its servers (or on `servers`, as an administrator, granting to `logins`: Lifeboat's logins
    there); returns the report, one line per action."""
    report = []
    for spec in specs:
        for target in (servers if servers is not None else spec.servers()):
            with target.connect(dbname="postgres") as conn:
                try:
                    lines = ensure_role(conn, spec, logins if servers is not None else [target.user])
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise ConfigurationError(
                        f"{target.user} may not create roles on {target.host}:{target.port} ({exc}): run again "
                        f"with --dsn postgresql://SUPERUSER@{target.host}:{target.port}/postgres "
                        f"--grant-to {target.user}") from None
                report += [f"{target.host}:{target.port}: {line}" for line in lines]
    return report
