"""The two processes of the import-at-scale test (tests/test_catalog_import_at_scale.py) and its bench script
(bench/import_catalog_scale.py), each a Django process on the same SQLite file (WAL, as in production):

    python -m tests.import_scale writer --stop FILE --out FILE
        writes an audit event every 5 ms with a 1 s busy timeout until FILE appears; reports each write's wait and
        every refusal ("database is locked").
    python -m tests.import_scale importer --small 1000 --large 10000 --out FILE [--defer-hashing]
        builds two prefixes of a moto bucket (in-process; objects written straight into moto's backend, the slow
        part being boto3's uploads), then imports the small one, then the large one, through import_catalog,
        reading them with boto3 as in production. Memory: ten times during each import, how many Python objects
        the process holds (gc): an import holding its keys or manifests holds more the more manifests it has read;
        and the process's peak resident set (VmHWM), which also counts moto's own (in-process) work, growing with
        the bucket. (tracemalloc would say it more precisely, at three times the CPU: too slow for 10,000.)
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASES = 10  # manifests spread over this many databases
BUSY_TIMEOUT = 1.0  # seconds: the writer's SQLite busy timeout
WRITE_EVERY = 0.01  # seconds between the writer's writes


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    django.setup()


def writer(stop: Path, out: Path) -> None:
    setup_django()
    from django.db import OperationalError, connection

    from audit import trail

    connection.settings_dict["OPTIONS"]["timeout"] = BUSY_TIMEOUT  # before the first query opens the connection
    writes, refusals, longest = 0, [], 0.0
    ready = out.with_suffix(".ready")
    while not stop.exists():
        if writes == 1:
            ready.touch()  # the writer is up: the import may start
        started = time.monotonic()
        try:
            trail.record("scale.concurrent_write", summary=f"write {writes} beside the import")
            writes += 1
        except OperationalError as exc:
            refusals.append(str(exc))
        longest = max(longest, time.monotonic() - started)
        time.sleep(WRITE_EVERY)
    out.write_text(json.dumps({"writes": writes, "refusals": refusals, "longest_wait_seconds": longest}))


def build_prefix(bucket: str, prefix: str, count: int) -> None:
    """`count` backups (a tiny artifact and its manifest) under `prefix`, straight into moto's backend."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from backups.catalog.manifest import ArtifactFacts, DatabaseTarget, Manifest

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        name = f"scale{i % DATABASES}"
        artifact = f"{name}_{i:06d}.dump.zst"
        body = b"lifeboat scale test artifact %d\n" % i
        taken = start + timedelta(minutes=i)
        manifest = Manifest(
            backup_uuid=str(uuid.uuid4()), started_at=taken, finished_at=taken + timedelta(seconds=5),
            database=DatabaseTarget(name=name, host="db.example.internal", port=5432, user="lifeboat", dbname=name),
            artifact=ArtifactFacts(name=artifact, size_bytes=len(body), raw_size_bytes=len(body),
                                   sha256=hashlib.sha256(body).hexdigest()))
        backend.put_object(bucket, prefix + artifact, body)
        backend.put_object(bucket, prefix + artifact + ".json", json.dumps(manifest.as_json()).encode())


def peak_rss() -> int:
    """The process's peak resident set so far (Linux: VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def importer(small: int, large: int, out: Path, defer_hashing: bool) -> None:
    setup_django()
    import boto3
    from moto import mock_aws

    from backups.catalog.importer import import_catalog
    from backups.models import Tier

    results = {}
    with mock_aws():
        bucket = f"lifeboat-scale-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
        build_prefix(bucket, "small/", small)
        build_prefix(bucket, "large/", large)
        # moto keeps some state of its own for each key the first time it lists it: list once, so what is counted
        # during the imports is what the import holds.
        client = boto3.client("s3", region_name="us-east-1")
        for prefix in ("small/", "large/"):
            for _ in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                pass
        gc.collect()
        results["built_peak_rss"] = peak_rss()
        for label in ("small", "large"):
            tier = Tier.objects.create(name=f"scale-{label}", kind=Tier.Kind.S3, bucket=bucket, prefix=f"{label}/",
                                       region="us-east-1", position=9)
            count = small if label == "small" else large
            held: list[int] = []

            def sample(done: int, *_, every: int = max(count // 10, 1), held: list[int] = held) -> None:
                if done % every == 0:
                    gc.collect()  # garbage not yet collected is not held
                    held.append(len(gc.get_objects()))

            started, cpu = time.monotonic(), time.process_time()
            report = import_catalog(tier, defer_hashing=defer_hashing, progress=sample)
            results[label] = {**report.summary(), "hashing_deferred": report.hashing_deferred,
                              "peak_rss": peak_rss(), "seconds": time.monotonic() - started,
                              "cpu_seconds": time.process_time() - cpu, "most_objects_held": max(held)}
    out.write_text(json.dumps(results))


def environment(var_dir: Path) -> dict[str, str]:
    """A Lifeboat installation of its own under var_dir (SQLite with the production settings), dummy AWS keys."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(LIFEBOAT_VAR_DIR=str(var_dir), LIFEBOAT_BACKUP_ROOT=str(var_dir / "backups"), SECRET_KEY="test-only",
               DJANGO_SETTINGS_MODULE="dashboard.settings", DEBUG="0", PYTHONPATH=str(ROOT),
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", LOG_LEVEL="WARNING")
    return env


def migrate(var_dir: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=environment(var_dir), check=True, capture_output=True, timeout=600)


def import_beside_writer(var_dir: Path, work: Path, small: int, large: int, defer_hashing: bool) -> tuple[dict, dict]:
    """Start the writer, run the importer once it writes, stop the writer: (import figures, writer figures)."""
    env = environment(var_dir)
    stop, written, imported = work / "stop", work / "writer.json", work / "import.json"
    writer = subprocess.Popen([sys.executable, "-m", "tests.import_scale", "writer", "--stop", str(stop),
                               "--out", str(written)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        ready, deadline = written.with_suffix(".ready"), time.monotonic() + 300
        while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not ready.exists():
            raise RuntimeError("the writer did not start")
        importing = subprocess.run(
            [sys.executable, "-m", "tests.import_scale", "importer", "--small", str(small), "--large", str(large),
             "--out", str(imported), *(["--defer-hashing"] if defer_hashing else [])],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    finally:
        stop.touch()
        _, writer_err = writer.communicate(timeout=120)
    if importing.returncode != 0:
        raise RuntimeError(f"the import failed: {importing.stderr[-3000:]}")
    if writer.returncode != 0:
        raise RuntimeError(f"the writer failed: {writer_err[-3000:]}")
    return json.loads(imported.read_text()), json.loads(written.read_text())


def figures(result: dict, writes: dict) -> str:
    small, large = result["small"], result["large"]
    n_small, n_large = (sum(part[k] for k in ("imported", "known", "flagged")) for part in (small, large))
    return (f"import of {n_small}: {small['seconds']:.1f} s ({small['cpu_seconds']:.1f} s CPU), of {n_large}: "
            f"{large['seconds']:.1f} s ({large['cpu_seconds']:.1f} s CPU); peak RSS {small['peak_rss'] / 2**20:.1f} "
            f"MiB after {n_small}, {large['peak_rss'] / 2**20:.1f} MiB after {n_large}; Python objects held at most "
            f"{small['most_objects_held']} importing {n_small}, {large['most_objects_held']} importing {n_large}; "
            f"writer: {writes['writes']} "
            f"writes, {len(writes['refusals'])} refused, longest wait {writes['longest_wait_seconds'] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    w = sub.add_parser("writer")
    w.add_argument("--stop", type=Path, required=True)
    w.add_argument("--out", type=Path, required=True)
    i = sub.add_parser("importer")
    i.add_argument("--small", type=int, default=1000)
    i.add_argument("--large", type=int, default=10000)
    i.add_argument("--defer-hashing", action="store_true")
    i.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.role == "writer":
        writer(args.stop, args.out)
    else:
        importer(args.small, args.large, args.out, args.defer_hashing)


if __name__ == "__main__":
    main()
