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


class LifeboatProcess:
    """A Lifeboat installation of its own (SQLite under `tmp`), driven through `manage.py` in child processes, so
    a job can be killed with SIGKILL mid-way exactly as a worker would be."""

    def __init__(self, tmp, **env: str) -> None:
        import os
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parent.parent
        self.tmp = Path(tmp)
        self.backup_root = self.tmp / "backups"
        self.verify_tmp = self.tmp / "verify-tmp"
        self.verify_tmp.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings",
                    "LIFEBOAT_VAR_DIR": str(self.tmp / "var"), "LIFEBOAT_BACKUP_ROOT": str(self.backup_root),
                    "LIFEBOAT_VERIFY_TMP": str(self.verify_tmp), "LIFEBOAT_VERIFY_AFTER_BACKUP": "0",
                    "LIFEBOAT_WORKERS": "1", **env}
        self.env.pop("DATABASE_URL", None)
        self.env.pop("REDIS_URL", None)
        self.manage = [sys.executable, str(root / "manage.py")]

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([*self.manage, *args], env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {proc.returncode}: {proc.stderr[-3000:]}")
        return proc.stdout

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen([*self.manage, *args], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, **kwargs)

    def value(self, expression: str, setup: str = "") -> object:
        """Evaluate a Python expression in the installation (after `setup`), e.g. a row's status."""
        code = f"import json\n{setup}\nprint('RESULT=' + json.dumps({expression}, default=str))"
        out = self.run("shell", "-c", code)
        line = [x for x in out.splitlines() if x.startswith("RESULT=")][-1]
        return json.loads(line[len("RESULT="):])


def chart_svgs(page: str) -> list[str]:
    """The SVG documents of the charts a page shows as <img> data: URLs (core/charts.py), decoded."""
    import base64
    import re

    return [base64.b64decode(data).decode() for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]
