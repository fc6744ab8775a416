"""Acceptance of the fleet: the Redis broker, Lifeboat's own database on PostgreSQL, two qcluster processes.

30 small databases scheduled in the same minute are each backed up exactly once, and never more than the server's
limit at a time (pg_dump sessions sampled from pg_stat_activity by application name, slot holders from pg_locks).
One cluster is SIGKILLed while its backup is mid-run: the run is abandoned by the reaper, alerted, and the next
window takes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from psycopg import sql

from tests.helpers import LifeboatProcess

DATABASES = 30
LIMIT = 4  # per server; 2 clusters x 3 workers could run 6 at once without it (one slot stays blocked below)
STALE_SECONDS = 8
REDIS_URL = os.environ.get("LIFEBOAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return client


class Sampler(threading.Thread):
    """Every 50 ms: pg_dump sessions on our databases, slot holders in Lifeboat's database, runs waiting."""

    def __init__(self, pg_server, sources: list[str], lifeboat_db: str) -> None:
        super().__init__(daemon=True)
        self.source = pg_server.connect("postgres")
        self.lifeboat = pg_server.connect(lifeboat_db)
        self.sources, self.lifeboat_db = sources, lifeboat_db
        self.stop = threading.Event()
        self.max_dumps = self.max_holders = self.max_waiting = 0

    def run(self) -> None:
        while not self.stop.wait(0.05):
            dumps = self.source.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'lifeboat-run-%%' "
                "AND datname = ANY(%s)", (self.sources,)).fetchone()[0]
            holders = self.lifeboat.execute(
                "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'lifeboat-slots%%' "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]
            waiting = self.lifeboat.execute(
                "SELECT count(*) FROM backups_backuprun WHERE status = 'queued' AND waiting <> ''").fetchone()[0]
            self.max_dumps = max(self.max_dumps, dumps)
            self.max_holders = max(self.max_holders, holders)
            self.max_waiting = max(self.max_waiting, waiting)

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.source.close()
        self.lifeboat.close()


def cluster_of(run_id: int, clusters: list[subprocess.Popen]) -> subprocess.Popen:
    """The cluster whose worker runs the pg_dump of `run_id` (its process group, from /proc)."""
    needle = f"application_name=lifeboat-run-{run_id}-".encode()
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"pg_dump" in cmdline and needle in cmdline:
                group = os.getpgid(int(proc.name))
                return next(c for c in clusters if c.pid == group)
        except (OSError, ValueError, StopIteration):
            continue
    raise AssertionError(f"no pg_dump of run {run_id} found")


T0 = time.monotonic()


def mark(what: str) -> None:
    """Where the minutes go (shown with -s): the scheduler's 30 s tick, migrate, the stale period."""
    print(f"[fleet e2e] {time.monotonic() - T0:6.1f} s {what}", flush=True)


def wait_for(what: str, check, timeout: float, clusters, progress=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            errors = "\n".join(c.stderr.read1(4000).decode(errors="replace") for c in clusters if c.poll() is not None)
            raise AssertionError(f"timed out waiting for {what} ({progress()})\n{errors}")
        time.sleep(0.5)


@pytest.mark.slow
def test_two_clusters_back_up_a_fleet_once_each_within_the_limit(tmp_path, pg_server):
    global T0
    T0 = time.monotonic()
    redis = redis_client()
    tag = uuid.uuid4().hex[:10]
    lifeboat_db = pg_server.create_database(f"lbt_fleet_lifeboat_{tag}")
    template = pg_server.create_database(f"lbt_fleet_tpl_{tag}")
    sources: list[str] = []
    clusters: list[subprocess.Popen] = []
    blocker = None
    sampler = None
    target = pg_server.target
    try:
        pg_server.query(template, "CREATE TABLE t (id int PRIMARY KEY, v text); "
                                  "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200) g")
        with pg_server.connect() as conn:
            for n in range(DATABASES):
                sources.append(f"lbt_fleet_{tag}_{n:02d}")
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(sources[-1]),
                                                                               sql.Identifier(template)))
        box = LifeboatProcess(tmp_path, LIFEBOAT_WORKERS="3", LIFEBOAT_MAX_JOBS_PER_SERVER=str(LIMIT),
                              LIFEBOAT_HEARTBEAT_STALE_SECONDS=str(STALE_SECONDS), LIFEBOAT_Q_NAME=f"lbtfleet{tag}")
        box.env["DATABASE_URL"] = f"postgres://{target.user}@{target.host}:{target.port}/{lifeboat_db}"
        box.env["REDIS_URL"] = REDIS_URL
        mark("databases created")
        box.run("migrate", "-v0")
        mark("migrated")
        # 30 databases, every schedule due in the same minute (before any cluster starts).
        box.run("shell", "-c", f"""
from django.utils import timezone
from django_q.models import Schedule
from backups.models import Database
for name in {sources!r}:
    Database.objects.create(name=name, dbname=name, host={target.host!r}, port={target.port}, user={target.user!r})
Schedule.objects.filter(name__startswith="backup:").update(next_run=timezone.now())
""")
        # The first database's pg_dump will wait on this lock: its run is mid-flight when its cluster is killed.
        blocker = pg_server.connect(sources[0], autocommit=False)
        blocker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")

        def runs() -> list[tuple[str, str, int]]:
            return [row for row in pg_server.query(
                lifeboat_db, "SELECT d.name, r.status, r.id FROM backups_backuprun r JOIN backups_database d "
                             "ON d.id = r.database_id ORDER BY r.id") if row[0] in sources]

        sampler = Sampler(pg_server, sources, lifeboat_db)
        sampler.start()
        clusters = [box.popen("qcluster", start_new_session=True) for _ in range(2)]
        mark("clusters started")
        wait_for("29 backups and the blocked one running", lambda: sum(s == "succeeded" for _, s, _ in runs()) ==
                 DATABASES - 1 and any(n == sources[0] and s == "running" for n, s, _ in runs()), 300, clusters,
                 lambda: Counter(s for _, s, _ in runs()))
        (blocked_run,) = [i for n, s, i in runs() if n == sources[0]]
        mark("29 backed up")

        victim = cluster_of(blocked_run, clusters)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        blocker.rollback()
        time.sleep(STALE_SECONDS + 1)
        box.run("mark_abandoned")  # the reaper, as the surviving cluster's minute schedule runs it
        mark("reaped")
        status, error = pg_server.query(lifeboat_db, "SELECT status, error FROM backups_backuprun WHERE id = %s",
                                        (blocked_run,))[0]
        assert status == "abandoned" and "no heartbeat" in error
        alert = pg_server.query(lifeboat_db, "SELECT a.kind FROM alerts_alert a JOIN backups_database d ON "
                                             "d.id = a.database_id WHERE d.name = %s AND a.resolved_at IS NULL",
                                (sources[0],))
        assert alert == [("backup_failed",)]

        # The next window: its schedule comes round again and the surviving cluster takes it.
        pg_server.query(lifeboat_db, "UPDATE django_q_schedule SET next_run = now() WHERE name = %s",
                        (f"backup:{sources[0]}",))
        wait_for("the next window's backup", lambda: ("succeeded" in
                 [s for n, s, _ in runs() if n == sources[0]]), 90, clusters)
        final = runs()
        mark("next window backed up")
    finally:
        if sampler:
            sampler.close()
        for cluster in clusters:
            if cluster.poll() is None:
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait()
        if blocker:
            blocker.close()
        for key in redis.scan_iter(f"*lbtfleet{tag}*"):
            redis.delete(key)
        for name in [*sources, template, lifeboat_db]:
            pg_server.drop_database(name)

    by_database: dict[str, list[str]] = {}
    for name, status, _ in final:
        if name in sources:  # (Lifeboat's own database is protected too, by its self-backup registration)
            by_database.setdefault(name, []).append(status)
    assert by_database.pop(sources[0]) == ["abandoned", "succeeded"]
    assert by_database == {name: ["succeeded"] for name in sources[1:]}  # each exactly once: none missed, none twice
    mark(f"highest at once: {sampler.max_dumps} pg_dump sessions, {sampler.max_holders} slot holders; "
         f"{sampler.max_waiting} runs waiting (limit {LIMIT})")
    assert sampler.max_dumps <= LIMIT and sampler.max_holders <= LIMIT, (sampler.max_dumps, sampler.max_holders)
    assert sampler.max_dumps >= 2 and sampler.max_waiting > 0  # the limit was reached, and jobs waited for it
