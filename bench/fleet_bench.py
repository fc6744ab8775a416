#!/usr/bin/env python
"""A fleet on one control plane: N small databases backed up in one (time-compressed) window by several qclusters
sharing Redis and a PostgreSQL database for Lifeboat; then the overview and /metrics at 1,000 databases x 3 tiers.

    .venv/bin/python bench/fleet_bench.py --databases 300 --workers 4 [--clusters 2] [--limit 2] [--window 60]

Part 1 registers N uniquely named databases (copies of a small template) on the local server, each with the window
01:00-05:00 UTC; Lifeboat places each in the window, and the bench compresses the window's 240 minutes into
--window seconds by setting each schedule's next run to its placed offset (the clusters' scheduler looks every 30 s).
`--workers` worker processes are split over `--clusters` qcluster processes. It prints the makespan (first start to
last finish), the highest number of pg_dump sessions seen at once on the server (pg_stat_activity, by application
name `lifeboat-run-<id>-<uuid>`; must not exceed --limit), and the missed and duplicated runs (must be 0).
Part 2 fills another throwaway Lifeboat database with 1,000 databases x 3 tiers (--history runs each) and times the
overview and /metrics (targets: overview < 150 ms, /metrics < 500 ms), then the alert rules that every job
evaluates when it ends (alerts.rules.current_conditions; no target, a figure). Everything it creates is dropped.
The machine's load average is printed beside the figures: on a shared machine, read them with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import time as clock
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_DSN = os.environ.get("LIFEBOAT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LIFEBOAT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WINDOW = (clock(1), clock(5))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def dsn_for(dbname: str) -> str:
    return PG_DSN.rsplit("/", 1)[0] + "/" + dbname


def admin(statement: sql.Composable | str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(statement)


class Sampler(threading.Thread):
    """Dumps and restores at once on the server, every 50 ms: pg_dump sessions on the bench's databases (by
    application name `lifeboat-run-<id>-<uuid>`, one session each) plus verifications (the scratch databases
    `lifeboat_verify_*` that Lifeboat's sessions are in, one per verification, however many sessions its
    parallel restore opens). Run it on a server where no other Lifeboat verifies meanwhile."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(PG_DSN, autocommit=True)
        self.names = names
        self.stop = threading.Event()
        self.highest = self.dumps = self.checks = 0

    def run(self) -> None:
        while not self.stop.wait(0.05):
            dumps, checks = self.conn.execute(
                "SELECT count(*) FILTER (WHERE application_name LIKE 'lifeboat-run-%%' AND datname = ANY(%s)), "
                "count(DISTINCT datname) FILTER (WHERE application_name LIKE 'lifeboat-verify%%' "
                "AND datname LIKE 'lifeboat\\_verify\\_%%') FROM pg_stat_activity", (self.names,)).fetchone()
            self.highest = max(self.highest, dumps + checks)
            self.dumps, self.checks = max(self.dumps, dumps), max(self.checks, checks)

    def close(self) -> tuple[int, int, int]:
        self.stop.set()
        self.join()
        self.conn.close()
        return self.highest, self.dumps, self.checks


def manage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed: {proc.stderr[-3000:]}")
    return proc.stdout


def window(args) -> None:
    tag = uuid.uuid4().hex[:8]
    lifeboat, template = f"lb_fleet_bench_{tag}", f"lb_fleet_bench_tpl_{tag}"
    names = [f"lb_fleet_bench_{tag}_{n:04d}" for n in range(args.databases)]
    work = Path(tempfile.mkdtemp(prefix="lifeboat-fleet-bench-"))
    per_cluster = max(1, args.workers // args.clusters)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VAR_DIR": str(work / "var"),
           "LIFEBOAT_BACKUP_ROOT": str(work / "backups"),
           "LIFEBOAT_VERIFY_AFTER_BACKUP": "0" if args.no_verify else "1",
           "DATABASE_URL": dsn_for(lifeboat), "REDIS_URL": REDIS_URL, "LIFEBOAT_Q_NAME": f"lbfleetbench{tag}",
           "LIFEBOAT_WORKERS": str(per_cluster), "LIFEBOAT_MAX_JOBS_PER_SERVER": str(args.limit)}
    clusters: list[subprocess.Popen] = []
    sampler = None
    print(f"window: {args.databases} databases, {args.clusters} clusters x {per_cluster} workers, limit "
          f"{args.limit} per server, 01:00-05:00 compressed into {args.window} s, "
          f"{'no verification' if args.no_verify else 'each backup verified by a restore'} ({load()})", flush=True)
    try:
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(lifeboat)))
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        with psycopg.connect(dsn_for(template), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text); "
                         "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g")
        for name in names:
            admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        manage(env, "migrate", "-v0")
        if not args.no_verify:  # the restricted role verifications restore as (idempotent; a server-wide role)
            manage(env, "setup_database_roles", "--dsn", PG_DSN)
        server = psycopg.conninfo.conninfo_to_dict(PG_DSN)
        # Register with the window, then compress it: each schedule's next run is its placed offset, scaled.
        manage(env, "shell", "-c", f"""
from datetime import time, timedelta
from django.utils import timezone
from django_q.models import Schedule
from backups.models import Database
from backups.models.windows import placed_minute
start = timezone.now() + timedelta(seconds=5)
for name in {names!r}:
    db = Database.objects.create(name=name, dbname=name, host={server.get('host', '127.0.0.1')!r},
                                 port={int(server.get('port', 5432))}, user={server.get('user', 'postgres')!r},
                                 window_start=time(1), window_end=time(5))
    hour, minute = placed_minute("database:" + name, time(1), time(5))
    offset = ((hour * 60 + minute) - 60) % 1440
    at = start + timedelta(seconds=offset * {args.window} / 240)
    Schedule.objects.filter(name=db.schedule_name).update(next_run=at)
""")
        sampler = Sampler(names)
        sampler.start()
        started = time.monotonic()
        clusters = [subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "qcluster"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                    for _ in range(args.clusters)]
        deadline = started + args.window + 60 + args.databases * (3 if args.no_verify else 6)
        with psycopg.connect(dsn_for(lifeboat), autocommit=True) as conn:
            while time.monotonic() < deadline:
                done, checked = conn.execute(
                    "SELECT count(DISTINCT r.database_id) FILTER (WHERE r.status IN ('succeeded', 'failed', "
                    "'abandoned')), count(DISTINCT r.database_id) FILTER (WHERE v.status IN ('passed', 'failed', "
                    "'error', 'abandoned')) FROM backups_backuprun r JOIN backups_database d ON d.id = r.database_id "
                    "LEFT JOIN backups_artifact a ON a.run_id = r.id LEFT JOIN backups_verification v ON "
                    "v.artifact_id = a.id WHERE d.name = ANY(%s)", (names,)).fetchone()
                print(f"  {done}/{args.databases} backed up, {checked} verified after "
                      f"{time.monotonic() - started:.0f} s", end="\r", flush=True)
                if done == args.databases and (args.no_verify or checked == args.databases):
                    break
                time.sleep(1)
            print()
            rows = conn.execute("SELECT d.name, r.status, r.started_at, r.finished_at FROM backups_backuprun r "
                                "JOIN backups_database d ON d.id = r.database_id WHERE d.name = ANY(%s)",
                                (names,)).fetchall()
            checks = conn.execute("SELECT v.status, count(*), max(v.finished_at) FROM backups_verification v "
                                  "JOIN backups_artifact a ON a.id = v.artifact_id JOIN backups_backuprun r ON "
                                  "r.id = a.run_id JOIN backups_database d ON d.id = r.database_id "
                                  "WHERE d.name = ANY(%s) GROUP BY v.status", (names,)).fetchall()
    finally:
        highest, dumps, verifying = sampler.close() if sampler else (0, 0, 0)
        for cluster in clusters:
            os.killpg(cluster.pid, signal.SIGTERM)
        for cluster in clusters:
            try:
                cluster.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(cluster.pid, signal.SIGKILL)
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*lbfleetbench{tag}*"):
            client.delete(key)
        for name in [*names, template, lifeboat]:
            admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    runs: dict[str, list[str]] = {}
    for name, status, _, _ in rows:
        runs.setdefault(name, []).append(status)
    good = [r for r in rows if r[1] == "succeeded"]
    makespan = (max(r[3] for r in good) - min(r[2] for r in good)).total_seconds() if good else 0
    missed = sum(1 for name in names if "succeeded" not in runs.get(name, []))
    duplicated = sum(1 for statuses in runs.values() if statuses.count("succeeded") > 1)
    print(f"  makespan {makespan:.1f} s (window {args.window} s); highest dumps and restores at once on the server: "
          f"{highest} (limit {args.limit}) {'ok' if highest <= args.limit else 'EXCEEDED'} (pg_dumps at most "
          f"{dumps}, verifications at most {verifying})")
    if not args.no_verify:
        first = min((r[2] for r in good), default=None)
        last = max((at for _, _, at in checks if at), default=None)
        print(f"  verifications: {', '.join(f'{n} {status}' for status, n, _ in checks) or 'none'}; backups and "
              f"verifications done {(last - first).total_seconds() if first and last else 0:.1f} s after the first "
              f"start")
    print(f"  missed {missed}, duplicated {duplicated} {'ok' if missed == duplicated == 0 else 'NOT 0'}; "
          f"failed {sum(r[1] == 'failed' for r in rows)} ({load()})", flush=True)


def pages(args) -> None:
    tag = uuid.uuid4().hex[:8]
    lifeboat = f"lb_fleet_pages_{tag}"
    work = Path(tempfile.mkdtemp(prefix="lifeboat-fleet-pages-"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VAR_DIR": str(work),
           "DATABASE_URL": dsn_for(lifeboat), "LIFEBOAT_METRICS_TOKEN": "bench-token"}
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(lifeboat)))
    try:
        subprocess.run([sys.executable, __file__, "--_pages-child", "--history", str(args.history),
                        "--fleet", str(args.fleet), *(["--profile"] if args.profile else [])], env=env, check=True)
    finally:
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(lifeboat)))
        shutil.rmtree(work, ignore_errors=True)


def pages_child(args) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from backups.models import Artifact, BackupRun, Database, Tier

    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    tiers = [Tier.objects.get(name="local")] + [
        Tier.objects.create(name=f"bench{i}", kind=Tier.Kind.LOCAL, path=f"/tmp/bench{i}") for i in (1, 2)]
    databases = Database.objects.bulk_create([
        Database(name=f"db{i:04d}", dbname=f"db{i:04d}", tags=f",team{i % 7},",
                 system_identifier=str(7300000000000000000 + i % 5)) for i in range(args.fleet)])
    databases = list(Database.objects.all())
    now = timezone.now()
    for h in range(args.history):
        at = now - timedelta(hours=6 * (args.history - h))
        runs = BackupRun.objects.bulk_create([
            BackupRun(database=db, created_at=at, started_at=at, finished_at=at + timedelta(seconds=30),
                      size_bytes=1000, status=BackupRun.Status.SUCCEEDED if (db.pk + h) % 40 else "failed")
            for db in databases])
        Artifact.objects.bulk_create([Artifact(run=r, tier=t, location=f"/x/{r.pk}/{t.pk}", size_bytes=1000,
                                               sha256="0" * 64, created_at=r.created_at)
                                      for r in runs if r.status == "succeeded" for t in tiers])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"pages: {len(databases)} databases x {len(tiers)} tiers, {BackupRun.objects.count()} runs, "
          f"{Artifact.objects.count()} copies ({load()})")
    user = User.objects.create_user("bench")
    user.groups.add(Group.objects.get(name="DBA"))
    client = Client()
    client.force_login(user)
    auth = {"HTTP_AUTHORIZATION": "Bearer bench-token"}
    for name, url, target, extra in [("overview", "/", 150, {}), ("overview, by server", "/?group=server", 150, {}),
                                     ("/metrics", "/metrics", 500, auth)]:
        assert client.get(url, **extra).status_code == 200
        times = []
        for _ in range(10):
            started = time.perf_counter()
            assert client.get(url, **extra).status_code == 200
            times.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries:
            client.get(url, **extra)
        captured = list(queries.captured_queries)  # the next request resets the connection's log
        median = statistics.median(times) * 1000
        print(f"  {name:20} median {median:7.1f} ms  max {max(times) * 1000:7.1f} ms  {len(queries):4} queries  "
              f"target < {target} ms {'ok' if median < target else 'MISSED'}", flush=True)
        if args.profile:  # where the time goes, for whoever makes it faster
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(client.get, url, **extra)
            own_code = f"{ROOT}/(?!\\.venv)"  # Lifeboat's functions, not the libraries'
            pstats.Stats(profile).sort_stats("cumulative").print_stats(own_code, 25)
            slowest = sorted(captured, key=lambda q: float(q["time"]), reverse=True)[:3]
            print("  slowest queries: " + "; ".join(f"{float(q['time']) * 1000:.0f} ms {q['sql'][:90]}"
                                                   for q in slowest))
    alert_rules(args)


def alert_rules(args) -> None:
    """What every job pays after it ends (alerts.receivers): the rules' current conditions over the whole fleet."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from alerts.rules import current_conditions

    current_conditions(timezone.now())
    times = []
    for _ in range(5):
        started = time.perf_counter()
        current_conditions(timezone.now())
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        found = current_conditions(timezone.now())
    median = statistics.median(times) * 1000
    print(f"  {'alert rules':20} median {median:7.1f} ms  max {max(times) * 1000:7.1f} ms  {len(queries):4} queries  "
          f"({len(found.conditions)} conditions; run after every job, no target set)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="worker processes in all")
    parser.add_argument("--clusters", type=int, default=2, help="qcluster processes sharing them")
    parser.add_argument("--limit", type=int, default=2, help="LIFEBOAT_MAX_JOBS_PER_SERVER")
    parser.add_argument("--window", type=int, default=60, help="seconds the 4-hour window is compressed into")
    parser.add_argument("--fleet", type=int, default=1000, help="databases for the page timings")
    parser.add_argument("--history", type=int, default=4, help="runs per database for the page timings")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each page once")
    parser.add_argument("--no-verify", action="store_true",
                        help="LIFEBOAT_VERIFY_AFTER_BACKUP=0 (by default every backup is verified, as in production)")
    parser.add_argument("--skip-window", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--_pages-child", dest="pages_child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pages_child:
        pages_child(args)
        return
    if not args.skip_window:
        window(args)
    if not args.skip_pages:
        pages(args)


if __name__ == "__main__":
    main()
