#!/usr/bin/env python
"""Lifeboat's backup beside raw pg_dump and the plan's `pg_dump | gzip` one-liner, on a pgbench database.

    .venv/bin/python bench/backup_bench.py --scale 20 [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Prints wall time, peak memory (max RSS of the process tree, from wait4) and artifact sizes, and the ratios the
foundation issue targets: Lifeboat <= 1.25x raw pg_dump, <= 0.8x the gzip one-liner, artifact <= half the gzip
file, worker peak memory < 150 MB. It creates a uniquely named database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(argv: list[str], env: dict[str, str] | None = None, stdout=subprocess.DEVNULL) -> tuple[float, int, bytes]:
    """Run argv; return (seconds, peak RSS in bytes of the process and its waited-for children, stdout)."""
    out_path = tempfile.mktemp()
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out if stdout is None else stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    stderr = proc.stderr.read()
    proc.stderr.close()
    data = Path(out_path).read_bytes()
    os.unlink(out_path)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {stderr.decode(errors='replace')} {data[-2000:].decode(errors='replace')}")
    return seconds, usage.ru_maxrss * 1024, data


def mb(n: float) -> str:
    return f"{n / 1e6:8.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i -s N (about 15 MB of data per unit)")
    parser.add_argument("--dsn", default=os.environ.get("LIFEBOAT_TEST_PG_DSN",
                                                        "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from backups.conninfo import ConnectionOptions
    from backups.engine import pgtools

    server = ConnectionOptions.parse(args.dsn)
    dbname = f"lb_bench_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="lifeboat-bench-"))
    # The plan's stock commands take the server as -h/-p/-U (no DSN options in a bench).
    conn_args = ["--host", server.host, "--port", str(server.port), "--username", server.user, "--no-password"]
    pg_env = server.env()
    python = sys.executable
    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(work / "var"), "LIFEBOAT_BACKUP_ROOT": str(work / "backups")}
    env.pop("DATABASE_URL", None)
    try:
        subprocess.run([pgtools.pg_binary("createdb"), *conn_args, dbname], check=True, env=pg_env)
        print(f"generating pgbench -i -s {args.scale} in {dbname} ...", flush=True)
        subprocess.run([pgtools.pg_binary("pgbench"), *conn_args[:-1], "-i", "-q", "-s", str(args.scale), dbname],
                       check=True, env=pg_env, capture_output=True)
        size = subprocess.run([pgtools.pg_binary("psql"), *conn_args, "-tAc",
                               "SELECT pg_database_size(current_database())", dbname],
                              check=True, env=pg_env, capture_output=True, text=True).stdout.strip()
        print(f"database size: {mb(int(size))}")

        manage = [python, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], check=True, env=env)
        subprocess.run([*manage, "add_database", "bench", "--dsn",
                        server.with_dbname(dbname).dsn], check=True, env=env, capture_output=True)

        pg_dump = [pgtools.pg_binary("pg_dump"), *conn_args, f"--dbname={dbname}"]
        raw_s, raw_rss, _ = timed([*pg_dump, "-Fc", "-Z0"], env=pg_env)  # stdout to /dev/null
        gz_file = work / "plan.sql.gz"
        gz_s, gz_rss, _ = timed(["bash", "-c", f"{' '.join(pg_dump)} | gzip > {gz_file}"], env=pg_env)
        lb_s, lb_rss, out = timed([*manage, "backup", "bench", "--json"], env=env, stdout=None)
        result = json.loads(out)
        run_s = result["duration_seconds"]
        artifact = result["artifacts"][0]["size_bytes"]
        gz_size = gz_file.stat().st_size

        print()
        print(f"{'':36}{'wall':>10}{'peak RSS':>13}{'artifact':>13}")
        print(f"{'raw pg_dump -Fc -Z0 > /dev/null':36}{raw_s:9.2f}s{mb(raw_rss):>13}{'-':>13}")
        print(f"{'plan: pg_dump | gzip > file':36}{gz_s:9.2f}s{mb(gz_rss):>13}{mb(gz_size):>13}")
        print(f"{'Lifeboat backup (whole command)':36}{lb_s:9.2f}s{mb(lb_rss):>13}{mb(artifact):>13}")
        print(f"{'Lifeboat backup (run itself)':36}{run_s:9.2f}s")
        print()
        checks = [
            ("Lifeboat run / raw pg_dump", run_s / raw_s, 1.25),
            ("Lifeboat run / gzip one-liner", run_s / gz_s, 0.8),
            ("artifact / gzip file", artifact / gz_size, 0.5),
            ("worker peak memory (MB)", lb_rss / 1e6, 150),
        ]
        for label, value, target in checks:
            verdict = "ok" if value <= target else "MISSED"
            print(f"{label:36}{value:9.2f}   target <= {target:<6} {verdict}")
        print("\n(whole command includes Django start-up and migrations check; the run is pg_dump to fsynced file)")
    finally:
        subprocess.run([pgtools.pg_binary("dropdb"), *conn_args, "--if-exists", "--force", dbname], env=pg_env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
