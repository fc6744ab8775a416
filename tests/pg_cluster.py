"""A private PostgreSQL cluster for tests that need what the shared server cannot give: several addresses and a
socket directory that all reach one server, with trust authentication. Started as the postgres OS user (initdb and
postgres refuse root), on a free port, removed at the end."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from tests.conftest import PgServer


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(pg_ctl: Path, data: Path, root: Path, port: int, addresses: str) -> None:
    options = f"-p {port} -c listen_addresses={addresses} -k {root} -c fsync=off"
    subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-l", str(root / f"server-{port}.log"), "-o", options,
                                 "-w", "start"]), check=True, capture_output=True)


@contextmanager
def clone_of(server: PgServer, socket_dir: str) -> Iterator[PgServer]:
    """A file-level copy of a running cluster (pg_basebackup) started on its own port: a clone, same
    system_identifier, writable."""
    pg_ctl = Path(pgtools.pg_binary("pg_ctl"))
    data = Path(socket_dir) / f"clone_{uuid.uuid4().hex[:6]}"
    port = free_port()
    subprocess.run(_as_postgres([str(pg_ctl.with_name("pg_basebackup")), "-h", "127.0.0.1",
                                 "-p", str(server.target.port), "-U", "postgres", "-D", str(data), "-X", "stream",
                                 "--checkpoint=fast"]),
                   check=True, capture_output=True)
    _start(pg_ctl, data, Path(socket_dir), port, "127.0.0.1")
    try:
        yield PgServer(ConnectionOptions("127.0.0.1", port, "postgres", "postgres"))
    finally:
        subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def private_cluster(addresses: str = "127.0.0.1,127.0.0.2") -> Iterator[tuple[PgServer, str]]:
    """(server reached on 127.0.0.1, its socket directory). The socket directory's name is lower case: DSN hosts
    are compared after urlsplit, which lower-cases them."""
    initdb = Path(pgtools.pg_binary("initdb"))
    pg_ctl = initdb.with_name("pg_ctl")
    root = Path(tempfile.gettempdir()) / f"lbt_pgcluster_{uuid.uuid4().hex[:10]}"
    root.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    port = free_port()
    subprocess.run(_as_postgres([str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"]),
                   check=True, capture_output=True)
    with open(data / "pg_hba.conf", "a") as hba:  # initdb's trust lines cover 127.0.0.1 only
        hba.write("host all all 127.0.0.2/32 trust\n")
    _start(pg_ctl, data, root, port, addresses)
    try:
        yield PgServer(ConnectionOptions("127.0.0.1", port, "postgres", "postgres")), str(root)
    finally:
        subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
