"""Shared fixtures: a real PostgreSQL server, uniquely named source databases, personas, a local tier.

The server comes from LIFEBOAT_TEST_PG_DSN (default: postgresql://postgres@127.0.0.1:5432/postgres), or from
testcontainers where a Docker engine exists. Where CI is set an unreachable server fails the run, never skips.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from backups.conninfo import ConnectionOptions

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class PgServer:
    target: ConnectionOptions  # carries the password, if any

    @property
    def env(self) -> dict[str, str]:
        """The environment for a client program (no ambient PG*, the password if any)."""
        return self.target.env()

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return self.target.connect(dbname=dbname, autocommit=autocommit)

    def create_database(self, prefix: str = "lbt") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def database_exists(self, name: str) -> bool:
        with self.connect() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    def query(self, dbname: str, query: str, params=None) -> list[tuple]:
        with self.connect(dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


def _docker_available() -> bool:
    return shutil.which("docker") is not None and os.path.exists("/var/run/docker.sock")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    dsn = os.environ.get("LIFEBOAT_TEST_PG_DSN", DEFAULT_DSN)
    target = ConnectionOptions.parse(dsn, password=os.environ.get("LIFEBOAT_TEST_PG_PASSWORD", ""))
    try:
        target.connect().close()
        yield PgServer(target)
        return
    except Exception as exc:
        reason = f"PostgreSQL at {dsn} is unreachable: {exc}"
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", username="postgres", password="postgres", dbname="postgres") as pg:
            target = ConnectionOptions(pg.get_container_host_ip(), int(pg.get_exposed_port(5432)), "postgres",
                                       "postgres", password="postgres")
            yield PgServer(target)
            return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing PostgreSQL is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def restore_role_name() -> Iterator[str]:
    """Verifications, restores and drills load backups as the restricted restore role: one uniquely named for this
    test session (also for worker subprocesses, through the environment), created on the test server when it
    answers and dropped at the end with anything it still owns."""
    from django.conf import settings
    from django.test import override_settings

    name = f"lbt_restore_{uuid.uuid4().hex[:10]}"
    os.environ["LIFEBOAT_RESTORE_ROLE"] = name
    override = override_settings(LIFEBOAT_RESTORE_ROLE=name)
    override.enable()
    dsn = os.environ.get("LIFEBOAT_TEST_PG_DSN", DEFAULT_DSN)
    target = ConnectionOptions.parse(dsn, password=os.environ.get("LIFEBOAT_TEST_PG_PASSWORD", ""))
    try:
        with target.connect(dbname="postgres") as conn:
            from backups.recovery.database_roles import ROLES, ensure_role

            ensure_role(conn, ROLES[0])
    except Exception:  # no server: the tests that need one skip or fail on their own
        target = None
    yield name
    override.disable()
    os.environ.pop("LIFEBOAT_RESTORE_ROLE", None)
    assert settings.LIFEBOAT_RESTORE_ROLE != name
    if target is not None:
        drop_role_and_databases(target, name)


def drop_role_and_databases(target: ConnectionOptions, role: str) -> None:
    with target.connect(dbname="postgres") as conn:
        owned = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datdba = "
                                            "(SELECT oid FROM pg_roles WHERE rolname = %s)", (role,)).fetchall()]
        for dbname in owned:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def make_source_db(pg_server: PgServer) -> Iterator[Callable[..., str]]:
    """Factory: create a uniquely named database, optionally with a schema script; all dropped afterwards."""
    created: list[str] = []

    def make(script: str = "", prefix: str = "lbt") -> str:
        name = pg_server.create_database(prefix)
        created.append(name)
        if script:
            with pg_server.connect(name) as conn:
                conn.execute(script)
        return name

    yield make
    for name in created:
        pg_server.drop_database(name)


LEARNING_SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz DEFAULT now());
CREATE TABLE lessons (id serial PRIMARY KEY, title text NOT NULL, body text);
CREATE TABLE problems (id serial PRIMARY KEY, lesson_id int REFERENCES lessons(id), statement text NOT NULL);
INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 250) g;
INSERT INTO lessons (title, body) SELECT 'Lesson ' || g, repeat('text ', 50) FROM generate_series(1, 40) g;
INSERT INTO problems (lesson_id, statement) SELECT 1 + g % 40, 'Problem ' || g FROM generate_series(1, 120) g;
"""


@pytest.fixture
def backup_root(tmp_path, settings):
    settings.LIFEBOAT_BACKUP_ROOT = tmp_path / "backups"
    return settings.LIFEBOAT_BACKUP_ROOT


@pytest.fixture
def learning_db(db, pg_server: PgServer, make_source_db, backup_root):
    """A `dsa_learning`-like source (users, lessons, problems) registered as a protected Database."""
    from backups.models import Database

    name = make_source_db(LEARNING_SCHEMA, prefix="lbt_learning")
    return Database.objects.create(
        name=name, host=pg_server.target.host, port=pg_server.target.port, user=pg_server.target.user,
        dbname=name,
    )


@pytest.fixture
def local_tier(db, backup_root):
    from backups.models import Tier

    return Tier.objects.get(name="local")


# --- personas -------------------------------------------------------------------------------------------


@pytest.fixture
def make_user(db, django_user_model):
    from django.contrib.auth.models import Group

    def make(username: str, *groups: str, **extra):
        user = django_user_model.objects.create_user(username=username, password="correct-horse-battery", **extra)
        for group in groups:
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        return user

    return make


@pytest.fixture
def tasks_inline(monkeypatch):
    """django-q2 runs queued tasks in the calling thread (its `sync` option), so a test sees them finish."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


# Personas: one per role, plus a signed-in stranger with no group.
@pytest.fixture
def dba(make_user):
    return make_user("dana-dba", "DBA")


@pytest.fixture
def team_lead(make_user):
    return make_user("terry-lead", "Team lead")


@pytest.fixture
def admin_user(make_user):
    return make_user("ada-admin", "Admin", is_staff=True)


@pytest.fixture
def auditor(make_user):
    return make_user("audrey-auditor", "Auditor")


@pytest.fixture
def stranger(make_user):
    return make_user("sam-stranger")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests render templates without running collectstatic first: skip the hashed manifest."""
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(scope="session", autouse=True)
def _flush_lifts_audit_triggers():
    """After a transactional test Django empties every table with `flush`, which the audit trail's append-only
    triggers refuse (as they must in production): lift them for that flush only (and for a serialized rollback's
    reload), then put them back."""
    import importlib

    from django.db.backends.base.creation import BaseDatabaseCreation
    from django.db.backends.base.operations import BaseDatabaseOperations

    triggers = importlib.import_module("dashboard.migrations.0005_audit_append_only_triggers")
    original = BaseDatabaseOperations.execute_sql_flush
    original_deserialize = BaseDatabaseCreation.deserialize_db_from_string

    @contextmanager
    def lifted(connection):
        forward, backward = triggers.BY_VENDOR[connection.vendor]
        with connection.cursor() as cursor:
            for statement in backward:
                cursor.execute(statement)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for statement in forward:
                    cursor.execute(statement)

    def execute_sql_flush(self, sql_list):
        with lifted(self.connection):
            original(self, sql_list)

    def deserialize_db_from_string(self, data):
        # A non-serialized transactional test before this one ended with a flush whose post_migrate re-created
        # content types, permissions and the role groups under new ids: the serialized ones come back instead.
        from django.contrib.auth.models import Group, Permission
        from django.contrib.contenttypes.models import ContentType

        alias = self.connection.alias
        with lifted(self.connection):
            for model in (Group, Permission, ContentType):
                model.objects.using(alias).all().delete()
            ContentType.objects.clear_cache()
            original_deserialize(self, data)
            ContentType.objects.clear_cache()

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush
    # A serialized rollback (django_db(serialized_rollback=True)) saves every row it kept back, audit events
    # included where they are serialized: an UPDATE the triggers refuse too, with the same values.
    BaseDatabaseCreation.deserialize_db_from_string = deserialize_db_from_string
    yield
    BaseDatabaseOperations.execute_sql_flush = original
    BaseDatabaseCreation.deserialize_db_from_string = original_deserialize


# AWS fixtures (dummy credentials only inside them; moto in-process or on a loopback port): see tests/aws.py.
from tests.aws import aws_env, moto_s3, moto_server, s3_outage, s3_tier  # noqa: E402, F401


@pytest.fixture(scope="session")
def tls_server(restore_role_name):
    """A private PostgreSQL that accepts TLS only (hostssl), with its own CA; stopped and removed at the end."""
    from backups.recovery.database_roles import ROLES, ensure_role
    from tests.tls_cluster import tls_cluster

    with tls_cluster() as cluster:
        with cluster.admin().connect() as conn:  # restores load as the restore role there too
            ensure_role(conn, ROLES[0])
        yield cluster


@pytest.fixture(scope="session")
def isolated_verification_cluster():
    """A private cluster that holds no protected database: the verification server an Admin may declare isolated,
    where backups with superuser-only objects (C or internal functions, event triggers, FDWs) can be proven."""
    from tests.pg_cluster import private_cluster

    with private_cluster(addresses="127.0.0.1") as (server, _socket_dir):
        yield server


@pytest.fixture
def verify_on_isolated_server(settings, isolated_verification_cluster):
    settings.LIFEBOAT_VERIFY_DSN = isolated_verification_cluster.target.with_dbname("postgres").dsn
    settings.LIFEBOAT_VERIFY_ISOLATED = True
    return isolated_verification_cluster
