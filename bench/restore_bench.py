#!/usr/bin/env python
"""Lifeboat's verification beside the plan's restore (`gunzip -c FILE | psql`), on generated databases.

    .venv/bin/python bench/restore_bench.py --scale 20 [--dataset learning|pgbench|both]

Two databases of about the same size: `learning`, the reference case (users, lessons, problems and a big
submissions table, with the indexes and foreign keys an application has), and `pgbench`, one big table with one
index: the worst case for any parallel restore. Both contenders restore the same data into a fresh database;
Lifeboat's figure is the whole proof: checking size and SHA-256, the restore, ANALYZE, exact row counts of every
table, the object check, the database properties check and dropping the scratch database. Each is timed twice, in
both orders, after autovacuum has gone quiet and a CHECKPOINT, and the best of each is compared.
Target: at most 1.0x the plan's restore.
It creates uniquely named databases and drops them afterwards.
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

# The reference case at `:s` times 5,000 users, 100 lessons, 500 problems and 100,000 submissions.
LEARNING_SQL = """
CREATE TYPE submission_status AS ENUM ('queued', 'accepted', 'wrong_answer', 'time_limit', 'error');
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE,
  name text NOT NULL, created_at timestamptz NOT NULL, profile jsonb NOT NULL);
CREATE TABLE lessons (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, author_id bigint NOT NULL REFERENCES users,
  title text NOT NULL, body text NOT NULL, tags text[] NOT NULL, published_at timestamptz);
CREATE TABLE problems (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  lesson_id bigint NOT NULL REFERENCES lessons, statement text NOT NULL,
  difficulty smallint NOT NULL CHECK (difficulty BETWEEN 1 AND 5), test_cases jsonb NOT NULL);
CREATE TABLE submissions (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users, problem_id bigint NOT NULL REFERENCES problems,
  status submission_status NOT NULL, score numeric(5,2), submitted_at timestamptz NOT NULL, code text NOT NULL);
CREATE INDEX ON lessons (author_id);
CREATE INDEX ON problems (lesson_id);
CREATE INDEX ON submissions (user_id, submitted_at);
CREATE INDEX ON submissions (problem_id);
CREATE INDEX ON submissions (status) WHERE status <> 'accepted';
INSERT INTO users (email, name, created_at, profile)
  SELECT 'user' || g || '@example.org', 'User ' || g, now() - g * interval '1 minute',
         jsonb_build_object('locale', 'en', 'streak', g % 30) FROM generate_series(1, 5000 * :s) g;
INSERT INTO lessons (author_id, title, body, tags, published_at)
  SELECT 1 + g % (5000 * :s), 'Lesson ' || g, repeat('Arrays, pointers and recursion. ', 20),
         ARRAY['dsa', 'level' || g % 5], now() FROM generate_series(1, 100 * :s) g;
INSERT INTO problems (lesson_id, statement, difficulty, test_cases)
  SELECT 1 + g % (100 * :s), 'Given an array of ' || g || ' integers...', 1 + g % 5,
         jsonb_build_array(jsonb_build_object('in', g, 'out', g * 2)) FROM generate_series(1, 500 * :s) g;
INSERT INTO submissions (user_id, problem_id, status, score, submitted_at, code)
  SELECT 1 + g % (5000 * :s), 1 + (g * 7) % (500 * :s), (enum_range(NULL::submission_status))[1 + g % 5],
         (g % 10000) / 100.0, now() - g * interval '1 second', 'def solve(xs): return sorted(xs)[' || g % 97 || ']'
  FROM generate_series(1, 100000 * :s) g;
VACUUM ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--dataset", choices=["learning", "pgbench", "both"], default="both")
    parser.add_argument("--dsn", default=os.environ.get("LIFEBOAT_TEST_PG_DSN",
                                                        "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lifeboat-restore-bench-"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VAR_DIR": str(work / "var"),
                       "LIFEBOAT_BACKUP_ROOT": str(work / "backups"), "LIFEBOAT_VERIFY_AFTER_BACKUP": "0"})
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"verification jobs (LIFEBOAT_VERIFY_JOBS): {settings.LIFEBOAT_VERIFY_JOBS}; cores: {os.cpu_count()}")
    results = []
    try:
        for dataset in (["learning", "pgbench"] if args.dataset == "both" else [args.dataset]):
            results.append(bench_one(dataset, args.scale, args.dsn, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'database':10}{'size':>10}{'plan restore':>15}{'verification':>15}{'of which restore':>18}{'ratio':>8}")
    for dataset, size, plan, lifeboat, restore in results:
        ratio = lifeboat / plan
        print(f"{dataset:10}{size:>10}{plan:>13.2f} s{lifeboat:>13.2f} s{restore:>16.2f} s{ratio:>8.2f}   "
              f"target <= 1.0 {'ok' if ratio <= 1.0 else 'MISSED'}")


def bench_one(dataset: str, scale: int, dsn: str, work: Path) -> tuple[str, str, float, float, float]:
    from backups.conninfo import ConnectionOptions
    from backups.engine import pgtools, pipeline
    from backups.models import Database
    from backups.proof.verification import verify_artifact

    server = ConnectionOptions.parse(dsn)
    # The plan's stock commands take the server as -h/-p/-U (no DSN options in a bench).
    conn_args = ["--host", server.host, "--port", str(server.port), "--username", server.user, "--no-password"]
    env = server.env()
    source = f"lb_rbench_{uuid.uuid4().hex[:8]}"
    plan_target = f"{source}_plan"

    def psql(*extra: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([pgtools.pg_binary("psql"), *conn_args, "-X", "-q", "-v", "ON_ERROR_STOP=1", *extra],
                              check=True, env=env, **kwargs)

    def quiesce() -> None:
        # Neither contender pays for the other's leftovers: wait until autovacuum has finished with what the
        # last restore loaded, then flush dirty pages, before each timed restore.
        with server.connect() as conn:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").fetchone()[0]:
                time.sleep(0.2)
            conn.execute("CHECKPOINT")

    try:
        subprocess.run([pgtools.pg_binary("createdb"), *conn_args, source], check=True, env=env)
        print(f"generating {dataset} at scale {scale} in {source} ...", flush=True)
        if dataset == "pgbench":
            subprocess.run([pgtools.pg_binary("pgbench"), *conn_args[:-1], "-i", "-q", "-s", str(scale), source],
                           check=True, env=env, capture_output=True)
        else:
            psql("-d", source, "-v", f"s={scale}", input=LEARNING_SQL.encode(), capture_output=True)
        with server.connect(dbname=source) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        database = Database.objects.create(name=f"bench-{dataset}", host=server.host, port=server.port,
                                           user=server.user, dbname=source)
        run = pipeline.backup(database)
        assert run.status == "succeeded", run.error

        gz = work / f"{dataset}.sql.gz"
        subprocess.run(["bash", "-c", f"set -o pipefail; {pgtools.pg_binary('pg_dump')} {' '.join(conn_args)} "
                                      f"{source} | gzip > {gz}"], check=True, env=env)

        def plan_restore() -> float:
            subprocess.run([pgtools.pg_binary("createdb"), *conn_args, plan_target], check=True, env=env)
            quiesce()
            started = time.perf_counter()
            subprocess.run(["bash", "-c", f"set -o pipefail; gunzip -c {gz} | {pgtools.pg_binary('psql')} "
                                          f"{' '.join(conn_args)} -q -d {plan_target} > /dev/null"],
                           check=True, env=env)
            seconds = time.perf_counter() - started
            subprocess.run([pgtools.pg_binary("dropdb"), *conn_args, "--force", plan_target], check=True, env=env)
            return seconds

        def lifeboat_verify():
            quiesce()
            started = time.perf_counter()
            verification = verify_artifact(run.artifacts.get())
            assert verification.status == "passed", verification.error
            return time.perf_counter() - started, verification

        # Both orders, best of two each: whichever runs second inherits a busier server otherwise.
        plan_times, lifeboat_times, restore_times = [plan_restore()], [], []
        for _ in range(2):
            seconds, verification = lifeboat_verify()
            lifeboat_times.append(seconds)
            restore_times.append(verification.restore_seconds)
        plan_times.append(plan_restore())
        print(f"  plan {' '.join(f'{t:.2f}' for t in plan_times)} s; "
              f"Lifeboat {' '.join(f'{t:.2f}' for t in lifeboat_times)} s", flush=True)
        return dataset, size, min(plan_times), min(lifeboat_times), min(restore_times)
    finally:
        for name in (source, plan_target):
            subprocess.run([pgtools.pg_binary("dropdb"), *conn_args, "--if-exists", "--force", name], env=env,
                           capture_output=True)


if __name__ == "__main__":
    main()
