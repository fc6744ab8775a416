#!/usr/bin/env python
"""Evidence export of a long history: wall time and peak Python memory (tracemalloc) by history length.

    .venv/bin/python bench/evidence_bench.py [--days 365 3650] [--databases 1]

For each size it makes a fresh SQLite database under a temporary LIFEBOAT_VAR_DIR, migrates it, writes a
daily history (one run a day per database at 02:00 UTC, its local copy, a passed restore test of each good run,
one failure in ten), plus one audit event per run, then exports the whole period to a zip. Memory should stay
flat as the history grows: rows stream from iterator() into zip entries opened for writing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, time, tracemalloc
from datetime import date, timedelta
from pathlib import Path
sys.path.insert(0, os.environ["ROOT"])
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from audit import trail
from evidence.export import build_package
from evidence.period import Scope
from tests.evidence_data import daily_history
days, databases = int(os.environ["DAYS"]), int(os.environ["DATABASES"])
first = date.today() - timedelta(days=days - 1)  # the period ends today, so the audit events fall in it
for n in range(databases):
    daily_history(f"db{n}", first, days, fail_every=10)
for i in range(days * databases):
    trail.record("bench.event", summary=f"event {i}", details={"i": i, "note": "x" * 80})
scope = Scope.build(first, first + timedelta(days=days - 1))
out = Path(os.environ["VAR"]) / "evidence.zip"
tracemalloc.start()
start = time.perf_counter()
manifest = build_package(scope, out, exported_by="bench")
seconds = time.perf_counter() - start
_, peak = tracemalloc.get_traced_memory()
counts = {p["name"]: p["count"] for p in manifest["populations"]}
size = out.stat().st_size
print(f"{days * databases:>7} runs  {seconds:7.2f} s  peak {peak / 2**20:6.1f} MiB  zip {size / 2**20:6.2f} MiB"
      f"  runs={counts['backup_runs']} artifacts={counts['artifacts']} verifications={counts['verifications']}"
      f" audit_events={counts['audit_events']}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--days", type=int, nargs="+", default=[365, 3650, 10950])
    parser.add_argument("--databases", type=int, default=1)
    args = parser.parse_args()
    print("evidence export: wall time and tracemalloc peak while writing the package")
    for days in args.days:
        with tempfile.TemporaryDirectory(prefix="lifeboat-evbench-") as var:
            env = {**os.environ, "ROOT": str(ROOT), "VAR": var, "LIFEBOAT_VAR_DIR": var, "DAYS": str(days),
                   "DATABASES": str(args.databases), "DJANGO_SETTINGS_MODULE": "dashboard.settings",
                   "LIFEBOAT_BACKUP_ROOT": str(Path(var) / "backups"), "LOG_LEVEL": "WARNING"}
            env.pop("DATABASE_URL", None)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, cwd=ROOT)
            print(f"        (setup + export {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
