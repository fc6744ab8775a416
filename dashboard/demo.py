"""The demo: a `dsa_learning` database (users, lessons, problems) to protect, and a login to look around with.

It uses the local PostgreSQL when one answers; otherwise it initialises a private cluster under var/pg with
the system's PostgreSQL binaries, so `make run` works on a machine with no server running.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from psycopg import sql

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from backups.errors import LifeboatError

DEMO_DB = os.environ.get("LIFEBOAT_DEMO_DB", "dsa_learning")
PRIVATE_PORT = 54329

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL, created_at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS lessons (
    id serial PRIMARY KEY, title text NOT NULL, topic text NOT NULL, body text NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    id serial PRIMARY KEY, lesson_id int NOT NULL REFERENCES lessons(id), title text NOT NULL,
    difficulty text NOT NULL CHECK (difficulty IN ('easy', 'medium', 'hard')));
INSERT INTO users (email, name)
    SELECT 'learner' || g || '@example.com', 'Learner ' || g FROM generate_series(1, 2000) g
    WHERE NOT EXISTS (SELECT 1 FROM users);
INSERT INTO lessons (title, topic, body)
    SELECT 'Lesson ' || g, (ARRAY['arrays','graphs','trees','dynamic programming'])[1 + g % 4], repeat('Explain. ', 200)
    FROM generate_series(1, 120) g WHERE NOT EXISTS (SELECT 1 FROM lessons);
INSERT INTO problems (lesson_id, title, difficulty)
    SELECT 1 + g % 120, 'Problem ' || g, (ARRAY['easy','medium','hard'])[1 + g % 3]
    FROM generate_series(1, 900) g WHERE NOT EXISTS (SELECT 1 FROM problems);
"""


def _reachable(target: ConnectionOptions) -> bool:
    try:
        target.connect().close()
        return True
    except LifeboatError:
        return False


def _as_postgres_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres system user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def private_cluster() -> ConnectionOptions:
    """Initialise (once) and start a cluster under var/pg listening on 127.0.0.1:54329."""
    root = Path(settings.VAR_DIR) / "pg"
    data = root / "data"
    initdb = Path(pgtools.pg_binary("initdb")) if _has("initdb") else None
    if initdb is None:
        raise LifeboatError("no PostgreSQL server answers and none is installed: apt-get install postgresql")
    pg_ctl = initdb.with_name("pg_ctl")
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        subprocess.run(_as_postgres_user([str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust",
                                          "--encoding=UTF8"]), check=True, capture_output=True)
    target = ConnectionOptions("127.0.0.1", PRIVATE_PORT, "postgres", "postgres")
    if not _reachable(target):
        options = f"-p {PRIVATE_PORT} -c listen_addresses=127.0.0.1 -k {root}"
        subprocess.run(_as_postgres_user([str(pg_ctl), "-D", str(data), "-l", str(root / "server.log"),
                                          "-o", options, "-w", "start"]), check=True, capture_output=True)
    return target


def _has(program: str) -> bool:
    try:
        pgtools.pg_binary(program)
        return True
    except LifeboatError:
        return False


def demo_server() -> ConnectionOptions:
    configured = os.environ.get("LIFEBOAT_DEMO_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    target = ConnectionOptions.parse(configured)
    return target if _reachable(target) else private_cluster()


def create_demo_database(server: ConnectionOptions) -> ConnectionOptions:
    with server.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DB,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DB)))
    target = server.with_dbname(DEMO_DB)
    with target.connect() as conn:
        conn.execute(SCHEMA)
    return target


def demo_password() -> str:
    """Generated once per install and kept in var/ (0600), so the printed login stays valid."""
    path = Path(settings.VAR_DIR) / "demo_password"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    return password
