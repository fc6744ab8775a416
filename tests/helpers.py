"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import json
import subprocess

from django.core.management import call_command

from backups.engine import pgtools


def run_command(*args, **kwargs) -> tuple[int, str, str]:
    """call_command that returns (exit code, stdout, stderr) instead of raising SystemExit/CommandError."""
    from django.core.management.base import CommandError

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **kwargs)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    except CommandError as exc:
        err.write(str(exc))
        code = exc.returncode
    return code, out.getvalue(), err.getvalue()


def run_json(*args) -> tuple[int, dict]:
    code, out, err = run_command(*args, "--json")
    return code, json.loads(out)


def stock_restore(path: str, server, dbname: str) -> None:
    """Restore an artifact with stock tools only, as the README documents: zstd -dc FILE | pg_restore -d DB."""
    t = server.target
    script = (f"set -o pipefail; zstd -dc '{path}' | {pgtools.pg_binary('pg_restore')} --exit-on-error "
              f"-h {t.host} -p {t.port} -U {t.user} -d {dbname}")
    subprocess.run(["bash", "-c", script], check=True, capture_output=True)


def table_counts(server, dbname: str, tables: list[str]) -> dict[str, int]:
    return {t: server.query(dbname, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
