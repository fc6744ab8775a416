#!/usr/bin/env python
"""Server time of the overview, the first history page and a tier's page with 100,000 runs and 300,000 artifacts.

    .venv/bin/python bench/dashboard_bench.py [--runs 100000] [--backend sqlite|postgres|both]

Fills a throwaway dashboard database (a SQLite file, and/or a uniquely named PostgreSQL database that is
dropped afterwards) with 20 databases, 3 tiers, RUNS runs and one artifact per run and tier (a third of them
verified, one run in 25 failed), then renders each page 30 times through Django's test client and prints the
median and the number of SQL queries. Targets: overview and history under 100 ms on both backends, also with a
tier that holds no copy yet; the page of a tier with 100,000 copies (retention preview included) under 300 ms.
It also checks that page's counts and first rows against the applier's full plan, and removes its files after.
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
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_DSN = os.environ.get("LIFEBOAT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def populate(runs: int) -> None:
    from django.utils import timezone

    from backups.models import Artifact, BackupRun, Database, Tier, Verification, refresh_verdicts

    tiers = [Tier.objects.get(name="local")] + [
        Tier.objects.create(name=f"bench{i}", kind=Tier.Kind.LOCAL, path=f"/tmp/bench{i}") for i in (1, 2)]
    databases = [Database.objects.create(name=f"db{i:02d}", dbname=f"db{i:02d}") for i in range(20)]
    start = timezone.now() - timedelta(hours=runs // len(databases))
    batch = 5000
    for offset in range(0, runs, batch):
        chunk = []
        for i in range(offset, min(offset + batch, runs)):
            at = start + timedelta(hours=i // len(databases))
            failed = i % 25 == 24
            chunk.append(BackupRun(database=databases[i % len(databases)], created_at=at, started_at=at,
                                   finished_at=at + timedelta(seconds=90), size_bytes=10_000_000 + i,
                                   status=BackupRun.Status.FAILED if failed else BackupRun.Status.SUCCEEDED))
        created = BackupRun.objects.bulk_create(chunk)
        if created[0].pk is None:  # backends that do not return ids: read them back
            created = list(BackupRun.objects.order_by("-pk")[: len(chunk)])[::-1]
        artifacts = [Artifact(run=run, tier=tier, location=f"/x/{run.pk}/{tier.pk}", size_bytes=run.size_bytes,
                              sha256="0" * 64, created_at=run.created_at)
                     for run in created if run.status == BackupRun.Status.SUCCEEDED for tier in tiers]
        # Failed runs get artifacts too (failed copies), so the table holds one artifact per run and tier.
        artifacts += [Artifact(run=run, tier=tier, status=Artifact.Status.FAILED, location="", error="bench",
                               created_at=run.created_at)
                      for run in created if run.status == BackupRun.Status.FAILED for tier in tiers]
        made = Artifact.objects.bulk_create(artifacts)
        if made and made[0].pk is not None:
            Verification.objects.bulk_create([Verification(artifact=a, status=Verification.Status.PASSED)
                                              for n, a in enumerate(made) if n % 3 == 0
                                              and a.status == Artifact.Status.STORED])
        print(f"  {min(offset + batch, runs):>7} runs", end="\r", flush=True)
    refresh_verdicts()  # bulk_create sends no post_save: fill each copy's verdict column as the migration does
    print(f"  {BackupRun.objects.count()} runs, {Artifact.objects.count()} artifacts, "
          f"{Verification.objects.count()} verifications")
    from django.db import connection

    if connection.vendor == "postgresql":
        # Autovacuum analyzes tables within a minute of a load like this, and vacuums them (inserts alone trigger it
        # since PostgreSQL 13); without statistics the planner believes the tables are empty, and without the
        # visibility map no index-only scan (the tier's counts) skips the table: plans no running installation
        # would see. refresh_verdicts() above also rewrote every copy, and the dead versions it left made each
        # "does this tier hold a live copy" probe walk them all. The server this bench runs on may have autovacuum
        # off.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def measure(label: str, runs: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"{label}: filling ...")
    populate(runs)
    user = User.objects.create_user("bench")
    user.groups.add(Group.objects.get(name="DBA"))
    client = Client()
    client.force_login(user)
    from backups.models import RetentionPolicy, Tier

    local = Tier.objects.get(name="local")
    RetentionPolicy.objects.update_or_create(tier=local, defaults={"keep_days": 30, "keep_last": 7,
                                                                  "monthly_months": 12})
    pages = [("overview", "/", 100), ("history page 1", "/backups/", 100),
             (f"tier ({local.artifacts.count() // 1000}k copies)", f"/backups/tiers/{local.pk}/", 300)]
    for name, url, target in pages:
        time_page(client, connection, name, url, target)
    check_preview_agrees(local)
    Tier.objects.create(name="empty", kind=Tier.Kind.LOCAL, path="/tmp/bench-empty", require_verified=True)
    time_page(client, connection, "overview, empty tier", "/", 100)


def check_preview_agrees(tier) -> None:
    """The page plans the deciding copies only; at this size, show it still says what the applier would do."""
    from django.utils import timezone

    from backups.retention.applier import plan_for_tier
    from backups.retention.preview import RetentionPreview

    now = timezone.now()
    started = time.perf_counter()
    full = plan_for_tier(tier, now)
    took = time.perf_counter() - started
    preview = RetentionPreview(tier, now)
    same = (preview.total, preview.deletions, preview.refusals) == (
        len(full.decisions), len(full.deletions), len(full.refusals))
    first = sorted(full.decisions, key=lambda d: (not d.delete, not d.refused, d.taken_at, d.copy_id))[:100]
    same = same and [row["decision"] for row in preview[0:100]] == first
    print(f"  tier page vs the applier's full plan ({took:.1f} s): {preview.total} copies, {preview.deletions} "
          f"deletions, {preview.refusals} refusals: {'same' if same else 'DIFFERENT'}", flush=True)


def time_page(client, connection, name: str, url: str, target: int) -> None:
    from django.test.utils import CaptureQueriesContext

    assert client.get(url).status_code == 200  # warm caches and the template loader
    times = []
    for _ in range(30 if target <= 100 else 10):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    median = statistics.median(times) * 1000
    p90 = sorted(times)[int(len(times) * 0.9) - 1] * 1000
    print(f"  {name:22} median {median:7.1f} ms   p90 {p90:7.1f} ms   {len(queries):3} queries   "
          f"target < {target} ms {'ok' if median < target else 'MISSED'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both", "_child"], default="both")
    args = parser.parse_args()
    if args.backend == "_child":
        measure(os.environ["BENCH_LABEL"], args.runs)
        return
    work = Path(tempfile.mkdtemp(prefix="lifeboat-dashboard-bench-"))
    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VAR_DIR": str(work)}
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    try:
        for backend in backends:
            run_backend(backend, base, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the SQLite file is hundreds of MB


def run_backend(backend: str, base: dict, runs: int) -> None:
    work = Path(base["LIFEBOAT_VAR_DIR"])
    env = dict(base)
    pg_name = None
    if backend == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    else:
        import psycopg

        pg_name = f"lb_dash_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        env["DATABASE_URL"] = PG_DSN.rsplit("/", 1)[0] + "/" + pg_name
    env["BENCH_LABEL"] = backend
    try:
        subprocess.run([sys.executable, __file__, "--backend", "_child", "--runs", str(runs)], env=env,
                       check=True)
    finally:
        if pg_name:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
