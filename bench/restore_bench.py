#!/usr/bin/env python
"""Lifeboat's verification beside the plan's restore (`gunzip -c FILE | psql`), on a pgbench database.

    .venv/bin/python bench/restore_bench.py --scale 20

Both restore the same data into a fresh database; Lifeboat's figure also includes checking size and SHA-256,
ANALYZE, exact row counts of every table and the object check, i.e. the whole proof. Each is timed twice after a
CHECKPOINT, in both orders, and the best of each is compared. Target: at most 1.0x the plan's restore. It
creates uniquely named databases and drops them afterwards.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--dsn", default=os.environ.get("LIFEBOAT_TEST_PG_DSN",
                                                        "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lifeboat-restore-bench-"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VAR_DIR": str(work / "var"),
                       "LIFEBOAT_BACKUP_ROOT": str(work / "backups"), "LIFEBOAT_VERIFY_AFTER_BACKUP": "0"})
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from backups import pgtools, pipeline
    from backups.models import Database
    from backups.verification import verify_artifact

    server = pgtools.parse_dsn(args.dsn)
    conn_args = server.cli_args()
    env = pgtools.client_env()
    source = f"lb_rbench_{uuid.uuid4().hex[:8]}"
    plan_target = f"{source}_plan"
    try:
        call_command("migrate", verbosity=0)
        subprocess.run([pgtools.pg_binary("createdb"), *conn_args, source], check=True, env=env)
        print(f"generating pgbench -i -s {args.scale} in {source} ...", flush=True)
        subprocess.run([pgtools.pg_binary("pgbench"), *conn_args[:-1], "-i", "-q", "-s", str(args.scale), source],
                       check=True, env=env, capture_output=True)
        database = Database.objects.create(name="bench", host=server.host, port=server.port, user=server.user,
                                           dbname=source)
        run = pipeline.backup(database)
        assert run.status == "succeeded", run.error

        gz = work / "plan.sql.gz"
        subprocess.run(["bash", "-c", f"{pgtools.pg_binary('pg_dump')} {' '.join(conn_args)} {source} | gzip > {gz}"],
                       check=True, env=env)

        def checkpoint() -> None:
            # Neither contender pays for the other's leftovers: wait until autovacuum has finished with what the
            # last restore loaded, then flush dirty pages, before each timed restore.
            with pgtools.connect(server, {}) as conn:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                ).fetchone()[0]:
                    time.sleep(0.2)
                conn.execute("CHECKPOINT")

        def plan_restore() -> float:
            subprocess.run([pgtools.pg_binary("dropdb"), *conn_args, "--if-exists", "--force", plan_target], env=env)
            subprocess.run([pgtools.pg_binary("createdb"), *conn_args, plan_target], check=True, env=env)
            checkpoint()
            started = time.perf_counter()
            subprocess.run(["bash", "-c", f"set -o pipefail; gunzip -c {gz} | {pgtools.pg_binary('psql')} "
                                          f"{' '.join(conn_args)} -q -d {plan_target} > /dev/null"],
                           check=True, env=env)
            seconds = time.perf_counter() - started
            subprocess.run([pgtools.pg_binary("dropdb"), *conn_args, "--force", plan_target], check=True, env=env)
            return seconds

        def lifeboat_verify():
            checkpoint()
            started = time.perf_counter()
            verification = verify_artifact(run.artifacts.get())
            assert verification.status == "passed", verification.error
            return time.perf_counter() - started, verification

        # Both orders, best of two each: whichever runs second inherits a busier server otherwise.
        plan_times, lifeboat_times = [plan_restore()], []
        for _ in range(2):
            seconds, verification = lifeboat_verify()
            lifeboat_times.append(seconds)
        plan_times.append(plan_restore())
        plan_seconds, lifeboat_seconds = min(plan_times), min(lifeboat_times)

        print()
        print(f"{'plan: gunzip -c FILE | psql':42}{plan_seconds:8.2f} s")
        print(f"{'Lifeboat verification (whole proof)':42}{lifeboat_seconds:8.2f} s")
        print(f"{'  of which pg_restore':42}{verification.restore_seconds:8.2f} s")
        ratio = lifeboat_seconds / plan_seconds
        print(f"\n{'ratio Lifeboat / plan':42}{ratio:8.2f}   target <= 1.0 {'ok' if ratio <= 1.0 else 'MISSED'}")
    finally:
        for name in (source, plan_target):
            subprocess.run([pgtools.pg_binary("dropdb"), *conn_args, "--if-exists", "--force", name], env=env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
