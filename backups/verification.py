"""Prove a backup: check its bytes, restore it into a scratch database, compare it with what was recorded.

The order matters: size and SHA-256 are checked while the artifact is decompressed to a scratch file, and a copy
whose bytes differ from the record is never restored. The scratch database is dropped whatever happens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import zstandard
from django.conf import settings
from django.utils import timezone

from backups import pgtools
from backups.errors import LifeboatError, RestoreFailed
from backups.models import Artifact, BackupRun, Database, Verification
from backups.restore import create_database, drop_database
from backups.signals import verification_finished
from backups.snapshot import count_rows
from backups.storage import CHUNK, open_artifact
from dashboard import audit

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "lifeboat_verify_"
# The scratch database is thrown away: its restore need not wait for WAL flushes, and index builds get more memory.
SCRATCH_OPTIONS = "-c synchronous_commit=off -c maintenance_work_mem=256MB"
# pg_restore --list types whose objects must exist after the restore, and the pg_class kinds that hold them.
RELATION_KINDS = {"TABLE": "rpf", "INDEX": "iI", "SEQUENCE": "S", "VIEW": "v", "MATERIALIZED VIEW": "m"}
CHECKED_TYPES = [*RELATION_KINDS, "FUNCTION"]
# TOC entries that share a prefix with a checked type but are data or attachments, not objects.
NOT_OBJECTS = ("TABLE DATA ", "TABLE ATTACH ", "SEQUENCE SET ", "SEQUENCE OWNED BY ", "INDEX ATTACH ",
               "MATERIALIZED VIEW DATA ")
TOC_LINE = re.compile(r"^\d+;\s+\d+\s+\d+\s+(?P<rest>.+)$")


@dataclass(frozen=True)
class TocObject:
    """An object as pg_restore --list names it: its type and "SCHEMA NAME" (space-separated, unquoted, so a
    schema or name containing spaces is compared as one string rather than split wrongly)."""

    kind: str
    qualified: str

    def __str__(self) -> str:
        return f"{self.kind} {self.qualified}"


def parse_toc(listing: str) -> set[TocObject]:
    """Objects of CHECKED_TYPES in `pg_restore --list` output: 'ID; OID OID TYPE SCHEMA NAME OWNER'."""
    found: set[TocObject] = set()
    for line in listing.splitlines():
        match = TOC_LINE.match(line.strip())
        if not match:
            continue
        rest = match.group("rest")
        if rest.startswith(NOT_OBJECTS):
            continue
        for kind in sorted(CHECKED_TYPES, key=len, reverse=True):  # MATERIALIZED VIEW before VIEW
            if rest.startswith(kind + " "):
                qualified = rest[len(kind) + 1:].rsplit(" ", 1)[0]  # drop the owner
                found.add(TocObject(kind, qualified))
                break
    return found


CATALOG_SQL = """
SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'f' THEN 'TABLE'
                      WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' WHEN 'S' THEN 'SEQUENCE'
                      WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' END, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'i', 'I', 'S', 'v', 'm')
UNION ALL
SELECT 'FUNCTION', n.nspname, p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind = 'f'
"""


def restored_objects(conn: psycopg.Connection) -> set[TocObject]:
    return {TocObject(kind, f"{schema} {name}") for kind, schema, name in conn.execute(CATALOG_SQL).fetchall()}


def verification_server_for(database: Database) -> tuple[pgtools.Target, dict[str, str]]:
    """Where scratch databases go: LIFEBOAT_VERIFY_DSN when set, else the source server itself."""
    dsn = settings.LIFEBOAT_VERIFY_DSN
    if dsn:
        env_name = settings.LIFEBOAT_VERIFY_PASSWORD_ENV
        env = {"PGPASSWORD": os.environ[env_name]} if env_name and env_name in os.environ else {}
        return pgtools.parse_dsn(dsn).with_dbname("postgres"), env
    return pgtools.Target(database.host, database.port, database.user, "postgres"), database.libpq_env()


def verification_server(artifact: Artifact) -> tuple[pgtools.Target, dict[str, str]]:
    return verification_server_for(artifact.run.database)


def newest_copies() -> list[Artifact]:
    """The newest live copy of each database in each tier (what the weekly re-verification proves again)."""
    newest: dict[tuple[int, int], Artifact] = {}
    copies = (Artifact.objects.live().filter(run__status=BackupRun.Status.SUCCEEDED)
              .select_related("run__database", "tier").order_by("run__started_at"))
    for artifact in copies.iterator():
        newest[(artifact.run.database_id, artifact.tier_id)] = artifact
    return list(newest.values())


def scratch_name(artifact: Artifact) -> str:
    """lifeboat_verify_<epoch>_<run>_<random>: the epoch lets a later sweep find leftovers of a crash."""
    return f"{SCRATCH_PREFIX}{int(time.time())}_{artifact.run_id}_{uuid.uuid4().hex[:6]}"


class _Checks:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.items.append({"name": name, "ok": ok, "detail": detail})
        return ok


@contextmanager
def decompressed_copy(artifact: Artifact, checks: _Checks):
    """Decompress to a scratch file while hashing the stored bytes; yield the path only if size and hash match."""
    scratch_dir = Path(settings.LIFEBOAT_VERIFY_TMP or tempfile.gettempdir())
    scratch_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="lifeboat-verify-", suffix=".dump", dir=scratch_dir)
    path = Path(name)
    try:
        sha = hashlib.sha256()
        size = 0
        decompressor = zstandard.ZstdDecompressor()
        with os.fdopen(fd, "wb") as out, open_artifact(artifact) as src, \
                decompressor.stream_writer(out, closefd=False) as writer:
            while chunk := src.read(CHUNK):
                sha.update(chunk)
                size += len(chunk)
                try:
                    writer.write(chunk)
                except zstandard.ZstdError:
                    pass  # corrupt data: the hash check below names the real problem
        size_ok = checks.add("size", size == artifact.size_bytes,
                             f"{size} bytes stored, {artifact.size_bytes} recorded")
        digest = sha.hexdigest()
        sha_ok = checks.add("sha256", digest == artifact.sha256, f"{digest} stored, {artifact.sha256} recorded")
        if not (size_ok and sha_ok):
            raise RestoreFailed("the stored copy differs from the recorded one (size or SHA-256); not restored")
        yield path
    finally:
        path.unlink(missing_ok=True)


def _run(argv: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(argv, capture_output=True, env=pgtools.client_env(env), stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()
        raise RestoreFailed(f"{Path(argv[0]).name} exited with status {proc.returncode}: {message}")
    return proc.stdout.decode(errors="replace")


def verify_artifact(artifact: Artifact, *, user=None, verification: Verification | None = None) -> Verification:
    """Run every check on one artifact and record the outcome. Never raises for a failed verification."""
    server, env = verification_server(artifact)
    scratch = scratch_name(artifact)
    record = verification or Verification(artifact=artifact, requested_by=user)
    record.status = Verification.Status.RUNNING
    record.started_at = timezone.now()
    record.scratch_database = scratch
    record.server = server.dsn.rsplit("/", 1)[0]
    record.save()
    checks = _Checks()
    created = False
    try:
        with decompressed_copy(artifact, checks) as dump:
            expected_objects = parse_toc(_run([pgtools.pg_binary("pg_restore"), "--list", str(dump)], env))
            create_database(server, env, scratch)
            created = True
            target = server.with_dbname(scratch)
            jobs = str(settings.LIFEBOAT_VERIFY_JOBS)
            started = time.monotonic()
            _run([pgtools.pg_binary("pg_restore"), *target.cli_args(), "--exit-on-error", "--no-owner", "--no-acl",
                  f"--jobs={jobs}", f"--dbname={scratch}", str(dump)], {**env, "PGOPTIONS": SCRATCH_OPTIONS})
            record.restore_seconds = round(time.monotonic() - started, 3)
            checks.add("restore", True, f"pg_restore finished in {record.restore_seconds} s")
        with pgtools.connect(target, env, autocommit=False) as conn:  # count_rows uses savepoints
            conn.execute("ANALYZE")
            actual = count_rows(conn)
            present = restored_objects(conn)
        _compare_counts(record, checks, artifact.run.row_counts, actual)
        missing = sorted(str(o) for o in expected_objects - present)
        checks.add("objects", not missing, f"{len(expected_objects)} objects in the backup's table of contents"
                   + (f"; missing after restore: {', '.join(missing[:20])}" if missing else ", all present"))
        failed = [c["name"] for c in checks.items if not c["ok"]]
        record.status = Verification.Status.FAILED if failed else Verification.Status.PASSED
        if failed:
            record.error = "; ".join(c["detail"] for c in checks.items if not c["ok"])
    except (LifeboatError, psycopg.Error, OSError, zstandard.ZstdError) as exc:
        record.status = Verification.Status.FAILED
        record.error = " ".join(str(exc).split())
        if not any(c["name"] == "restore" for c in checks.items) and all(c["ok"] for c in checks.items):
            checks.add("restore", False, record.error)
    finally:
        if created:
            try:
                drop_database(server, env, scratch)
            except LifeboatError as exc:  # recorded; the stale sweep retries later
                log.warning("could not drop scratch database %s: %s", scratch, exc)
    record.checks = checks.items
    record.finished_at = timezone.now()
    record.save()
    _announce(record, user)
    return record


def _compare_counts(record: Verification, checks: _Checks, expected: dict[str, int], actual: dict[str, int]) -> None:
    tables = sorted(set(expected) | set(actual))
    record.table_counts = {t: {"expected": expected.get(t), "actual": actual.get(t)} for t in tables}
    wrong = [f"{t} (expected {expected.get(t)}, found {actual.get(t)})" for t in tables
             if expected.get(t) != actual.get(t)]
    checks.add("row_counts", not wrong,
               f"rows differ in {', '.join(wrong)}" if wrong else f"{len(tables)} tables, every count equal")


def _announce(record: Verification, user) -> None:
    run = record.artifact.run
    audit.record(f"verification.{record.status}", actor=user, target=record,
                 summary=f"verification of {run.database.name} run #{run.pk} in {record.artifact.tier.name} "
                         f"{record.status}",
                 details={"artifact": record.artifact_id, "location": record.artifact.location,
                          "restore_seconds": record.restore_seconds, "error": record.error,
                          "checks": [{"name": c["name"], "ok": c["ok"]} for c in record.checks]})
    verification_finished.send(sender=Verification, verification=record)


def cleanup_stale_scratch(server: pgtools.Target, env: dict[str, str], older_than: timedelta) -> list[str]:
    """Drop scratch databases a crashed verification left behind (their name carries their creation time)."""
    cutoff = time.time() - older_than.total_seconds()
    with pgtools.connect(server.with_dbname("postgres"), env) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                            (SCRATCH_PREFIX.replace("_", r"\_") + "%",)).fetchall()]
    dropped = []
    for name in names:
        stamp = name[len(SCRATCH_PREFIX):].split("_", 1)[0]
        if stamp.isdigit() and int(stamp) < cutoff:
            drop_database(server, env, name)
            dropped.append(name)
    return dropped
