"""PostgreSQL client programs: finding the binaries and their versions (connections: backups.conninfo)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from functools import cache
from pathlib import Path
from typing import IO

from django.conf import settings

from backups.errors import ConfigurationError

STDERR_LIMIT = 64 * 1024  # what a client program's error message may hold; the rest is dropped


class StderrDrain:
    """Reads a client program's stderr on a thread, so the program never blocks on a full pipe while its stdout or
    stdin is busy, and keeps the first STDERR_LIMIT bytes for the error message."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.data = bytearray()
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True, name="stderr-drain")
        self._thread.start()

    def _read(self) -> None:
        for line in iter(self._stream.readline, b""):
            if len(self.data) < STDERR_LIMIT:
                self.data.extend(line)
        self._stream.close()

    def join(self) -> str:
        """Wait until the program closed its stderr (call after it exited); what it said."""
        self._thread.join()
        return self.data.decode(errors="replace")


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


_SAFE_IDENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]*$")


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
