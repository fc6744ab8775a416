"""Restores: stream an artifact (zstd -dc) into pg_restore, recorded as a Restore row with its outcome.

Data never sits in memory whole: the artifact is read, hashed and decompressed in chunks into pg_restore's stdin.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading
from collections.abc import Sequence

import psycopg
import zstandard
from django.utils import timezone
from psycopg import sql

from backups import pgtools
from backups.errors import ConfigurationError, LifeboatError, RestoreFailed
from backups.models import Artifact, Restore
from backups.signals import restore_finished
from backups.storage import CHUNK, open_artifact
from dashboard import audit

log = logging.getLogger(__name__)
STDERR_LIMIT = 64 * 1024


def source_target(artifact: Artifact) -> tuple[pgtools.Target, dict[str, str]]:
    database = artifact.run.database
    return pgtools.Target(database.host, database.port, database.user, database.dbname), database.libpq_env()


def database_exists(server: pgtools.Target, env: dict[str, str], name: str) -> bool:
    with pgtools.connect(server.with_dbname("postgres"), env) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def create_database(server: pgtools.Target, env: dict[str, str], name: str, *, template: str | None = None) -> None:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with pgtools.connect(server.with_dbname("postgres"), env) as conn:
        conn.execute(query)


def drop_database(server: pgtools.Target, env: dict[str, str], name: str) -> None:
    """DROP ... WITH (FORCE) terminates remaining connections first (PostgreSQL 13+)."""
    with pgtools.connect(server.with_dbname("postgres"), env) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_restore_argv(target: pgtools.Target, *, tables: Sequence[str] = (), no_owner: bool = False) -> list[str]:
    argv = [pgtools.pg_binary("pg_restore"), *target.cli_args(), "--exit-on-error", f"--dbname={target.dbname}"]
    if no_owner:
        argv += ["--no-owner", "--no-acl"]
    for table in tables:
        argv.append(f"--table={table}")
    return argv


def stream_artifact(artifact: Artifact, argv: list[str], env: dict[str, str]) -> None:
    """Decompress the artifact into a program's stdin; fail if it fails or if the bytes are not the recorded ones."""
    stderr = bytearray()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=pgtools.client_env(env))

    def drain() -> None:
        for line in iter(proc.stderr.readline, b""):
            if len(stderr) < STDERR_LIMIT:
                stderr.extend(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    sha = hashlib.sha256()
    broken = False
    try:
        with open_artifact(artifact) as raw:
            hashing = _HashingReader(raw, sha)
            with zstandard.ZstdDecompressor().stream_reader(hashing, read_size=CHUNK) as data:
                while chunk := data.read(CHUNK):
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        broken = True
                        break
        try:
            proc.stdin.close()
        except BrokenPipeError:
            broken = True
    except zstandard.ZstdError as exc:
        proc.kill()
        raise RestoreFailed(f"the artifact is corrupt (zstd: {exc})") from None
    finally:
        returncode = proc.wait()
        reader.join()
    message = stderr.decode(errors="replace").strip()
    if returncode != 0 or broken:
        raise RestoreFailed(f"{argv[0].rsplit('/', 1)[-1]} exited with status {returncode}: {message or 'no message'}")
    if artifact.sha256 and sha.hexdigest() != artifact.sha256:
        raise RestoreFailed(f"checksum mismatch: artifact is {sha.hexdigest()}, recorded {artifact.sha256}")


class _HashingReader:
    def __init__(self, fh, sha) -> None:
        self._fh = fh
        self._sha = sha

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._sha.update(data)
        return data


def restore_new_database(artifact: Artifact, target_database: str, *, force: bool = False, user=None,
                         no_owner: bool = False) -> Restore:
    """Restore into a new database on the source server. Refuses an existing database unless force."""
    server, env = source_target(artifact)
    if target_database == server.dbname:
        raise ConfigurationError(
            f"{target_database} is the protected database itself; restoring over it needs --replace"
        )
    pgtools.validate_dbname(target_database, "target database name")
    record = Restore.objects.create(
        artifact=artifact, mode=Restore.Mode.NEW_DATABASE, status=Restore.Status.RUNNING, requested_by=user,
        target_dsn=server.with_dbname(target_database).dsn, target_database=target_database,
        started_at=timezone.now(),
    )
    try:
        if database_exists(server, env, target_database):
            if not force:
                raise ConfigurationError(f"database {target_database} already exists (use --force to replace it)")
            drop_database(server, env, target_database)
        create_database(server, env, target_database)
        target = server.with_dbname(target_database)
        try:
            stream_artifact(artifact, pg_restore_argv(target, no_owner=no_owner), env)
        except LifeboatError:
            drop_database(server, env, target_database)  # a half-restored database is not left to be mistaken
            raise
        record.status = Restore.Status.SUCCEEDED
    except (LifeboatError, psycopg.Error) as exc:
        record.status = Restore.Status.FAILED
        record.error = " ".join(str(exc).split())
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "error", "finished_at"])
    audit.record(f"restore.{record.status}", actor=user, target=record,
                 summary=f"restore of {artifact.run.database.name} run #{artifact.run_id} into {target_database}"
                         f" {record.status}",
                 details={"artifact": artifact.pk, "location": artifact.location, "target": record.target_dsn,
                          "mode": record.mode, "error": record.error,
                          "seconds": record.duration.total_seconds() if record.duration else None})
    restore_finished.send(sender=Restore, restore=record)
    return record
