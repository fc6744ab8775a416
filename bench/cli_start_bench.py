#!/usr/bin/env python
"""How long `manage.py backup` takes from exec to the start of the pg_dump that dumps the data.

    .venv/bin/python bench/cli_start_bench.py [--runs 7] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Lifeboat finds pg_dump in LIFEBOAT_PG_BIN (backups/engine/pgtools.py); the bench points it at a directory of shims:
pg_dump is a bash script that appends bash's $EPOCHREALTIME (no fork, so the shim adds next to nothing) and its
arguments to a file, then execs the real pg_dump; the other client programs are symlinks. Each run's figure is the
first data dump's start (not `pg_dump --version`) minus the wall-clock time just before the command was exec'd.
Prints every run, the median against the 0.5 s target, and the load average (the machine may be shared).
A uniquely named database and a scratch LIFEBOAT_VAR_DIR (SQLite, local tier) are made and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.5
SHIM = """#!/bin/bash
read -r -a stat < /proc/$PPID/stat
printf '%s %s %s\\n' "$EPOCHREALTIME" "$((stat[13] + stat[14]))" "$*" >> {log}
exec {real} "$@"
"""


def real_bin_dir() -> Path:
    versioned = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"), key=lambda p: int(p.parent.parent.name))
    found = versioned[-1] if versioned else shutil.which("pg_dump")
    if not found:
        raise SystemExit("pg_dump is not installed")
    return Path(found).resolve().parent


def make_shims(shim_dir: Path, log: Path) -> None:
    real = real_bin_dir()
    for program in real.iterdir():
        if program.name != "pg_dump":
            (shim_dir / program.name).symlink_to(program)
    shim = shim_dir / "pg_dump"
    shim.write_text(SHIM.format(log=log, real=real / "pg_dump"))
    shim.chmod(0o755)


def dump_start(log: Path) -> tuple[float, float]:
    """When the first data dump (anything but --version) started: (wall-clock time, CPU seconds its parent, the
    Lifeboat process, had used by then)."""
    for line in log.read_text().splitlines():
        stamp, ticks, args = line.split(" ", 2)
        if "--version" not in args.split():
            return float(stamp), int(ticks) / os.sysconf("SC_CLK_TCK")
    raise SystemExit(f"pg_dump never dumped: {log.read_text()!r}")


def manage(root: Path, env: dict[str, str], *args: str) -> None:
    # manage.py's own directory comes first on sys.path, so this venv runs the checkout at `root`.
    proc = subprocess.run([sys.executable, str(root / "manage.py"), *args], env=env, cwd=root, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"{root}/manage.py {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")


def report(label: str, figures: list[tuple[float, float]]) -> None:
    wall = statistics.median(f[0] for f in figures)
    cpu = statistics.median(f[1] for f in figures)
    verdict = "within" if wall < TARGET_SECONDS else "OVER"
    print(f"  {label}")
    print("    runs:   " + "  ".join(f"{w * 1000:.0f}" for w, _ in figures) + " ms")
    print(f"    median: {wall * 1000:.0f} ms wall (target < {TARGET_SECONDS * 1000:.0f} ms: {verdict}),"
          f" {cpu * 1000:.0f} ms CPU of the Lifeboat process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a server where a scratch database may be created (the database part is replaced)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="compile every module on every run, as with PYTHONDONTWRITEBYTECODE and no __pycache__")
    parser.add_argument("--compare", type=Path, metavar="CHECKOUT",
                        help="another checkout (e.g. the main branch's) measured in turn with this one, same load")
    args = parser.parse_args()

    roots = {"this checkout": ROOT}
    if args.compare:
        roots[f"{args.compare}"] = args.compare.resolve()
    name = f"lifeboat_clistart_{uuid.uuid4().hex[:10]}"
    server = args.dsn.rsplit("/", 1)[0]
    psql = [str(real_bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-d", args.dsn, "-c", f"CREATE DATABASE {name}"], check=True)
    work = Path(tempfile.mkdtemp(prefix="lifeboat-clistart-"))
    try:
        subprocess.run([*psql, "-d", f"{server}/{name}", "-c",
                        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g"],
                       check=True)
        shims, log = work / "bin", work / "pg_dump.log"
        shims.mkdir()
        make_shims(shims, log)
        envs = {}
        for i, (label, root) in enumerate(roots.items()):
            env = {**os.environ, "LIFEBOAT_VAR_DIR": str(work / f"var{i}"), "LIFEBOAT_PG_BIN": str(shims),
                   "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VERIFY_AFTER_BACKUP": "0"}
            env.pop("DATABASE_URL", None)
            if args.no_bytecode_cache:
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            else:  # an installed host keeps compiled bytecode; the warm-up run writes it here
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                env["PYTHONPYCACHEPREFIX"] = str(work / f"pycache{i}")
            manage(root, env, "migrate", "-v0")
            manage(root, env, "add_database", "bench", "--dsn", f"{server}/{name}")
            manage(root, env, "backup", "bench")  # warms the page cache, as a scheduled job's host would be
            envs[label] = env
        figures: dict[str, list[tuple[float, float]]] = {label: [] for label in roots}
        for _ in range(args.runs):
            for label, root in roots.items():  # in turn, so both see the same load
                log.unlink(missing_ok=True)
                started = time.time()
                manage(root, envs[label], "backup", "bench")
                at, cpu = dump_start(log)
                figures[label].append((at - started, cpu))
        cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cached"
        print(f"manage.py backup, exec -> pg_dump start, {args.runs} runs (local tier, SQLite catalog, {cache}):")
        for label, found in figures.items():
            report(label, found)
        print(f"  load average while measuring: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
              f" on {os.cpu_count()} CPUs (other work on the machine stretches wall time, less so CPU time)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run([*psql, "-d", args.dsn, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


if __name__ == "__main__":
    main()
