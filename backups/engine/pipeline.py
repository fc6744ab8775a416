"""The backup pipeline: pg_dump -> zstd -> [age] -> SHA-256 -> `<name>.partial` -> fsync -> rename, then other tiers.

A run is `succeeded` only when pg_dump exited 0, its output is a complete custom-format archive, every byte was
written and synced, and the checksum is recorded. Memory stays flat: data moves in 1 MiB chunks.
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import zstandard
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import trail
from backups import encryption
from backups.engine import pgtools
from backups.engine.snapshot import SnapshotSession
from backups.errors import AlreadyRunning, BackupFailed, LifeboatError, StorageError
from backups.models import Artifact, BackupRun, Database, Feature, Tier
from backups.recovery import identity
from backups.signals import artifact_failed, backup_finished
from backups.storage import storage_for
from backups.storage.interface import CHUNK, StoredCopy, atomic_file
from backups.storage.leftovers import remove_or_remember
from backups.storage.local import LocalStorage
from core import joblog
from core.heartbeat import error_text, heartbeat
from core.units import human_bytes

log = logging.getLogger(__name__)

PGDMP_MAGIC = b"PGDMP"
DUMP_SUFFIX = ".dump.zst"
GLOBALS_SUFFIX = ".globals.sql"
PROGRESS_EVERY_SECONDS = 2.0


def artifact_stem(database: Database, started: datetime) -> str:
    return f"{database.name}_backup_{started:%Y%m%d_%H%M%S}"


# --- starting and claiming runs ------------------------------------------------------------------------


def _create_run(database: Database, status: str, trigger: str, user=None) -> BackupRun:
    now = timezone.now()
    try:
        with transaction.atomic():
            return BackupRun.objects.create(
                database=database, status=status, trigger=trigger, requested_by=user, created_at=now,
                started_at=now if status == BackupRun.Status.RUNNING else None,
                heartbeat_at=now, source_dsn=database.dsn,
            )
    except IntegrityError:
        active = BackupRun.objects.active().filter(database=database).first()
        raise AlreadyRunning(
            f"a backup of {database.name} is already {active.status if active else 'running'}"
            + (f" (run #{active.pk})" if active else "")
        ) from None


def create_queued(database: Database, *, user=None, trigger: str = BackupRun.Trigger.MANUAL) -> BackupRun:
    """Record a queued run (AlreadyRunning when one is queued or running)."""
    return _create_run(database, BackupRun.Status.QUEUED, trigger, user)


def queue_backup(database: Database, *, user=None, trigger: str = BackupRun.Trigger.MANUAL) -> BackupRun:
    """Record a queued run and hand it to django-q2; the worker claims it atomically."""
    from django_q.tasks import async_task

    run = create_queued(database, user=user, trigger=trigger)
    async_task("backups.tasks.run_queued_backup", run.pk, task_name=f"backup {database.name} #{run.pk}")
    return run


def claim(run_id: int) -> BackupRun | None:
    """queued -> running with a conditional UPDATE: of two workers handed the same run, one wins."""
    now = timezone.now()
    claimed = BackupRun.objects.filter(pk=run_id, status=BackupRun.Status.QUEUED).update(
        status=BackupRun.Status.RUNNING, started_at=now, heartbeat_at=now, waiting=""
    )
    return BackupRun.objects.select_related("database").get(pk=run_id) if claimed else None


def backup(database: Database, *, tiers: list[Tier] | None = None, trigger: str = BackupRun.Trigger.CLI,
           user=None) -> BackupRun:
    """Run a backup now, in this process. Raises AlreadyRunning; every other failure is recorded on the run."""
    run = _create_run(database, BackupRun.Status.RUNNING, trigger, user)
    return execute(run, tiers)


# --- the run itself ----------------------------------------------------------------------------------------


@dataclass
class DumpResult:
    local_path: Path
    raw_size: int
    stored: StoredCopy
    recipients: list[str] = field(default_factory=list)  # public age recipients; empty for a plain copy


class _Progress:
    """Writes bytes_done at most every PROGRESS_EVERY_SECONDS (the heartbeat has its own thread: core/heartbeat.py)."""

    def __init__(self, run: BackupRun) -> None:
        self.run_id = run.pk
        self.last = 0.0

    def __call__(self, raw_bytes: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            BackupRun.objects.filter(pk=self.run_id).update(bytes_done=raw_bytes)


def backend_name(run: BackupRun) -> str:
    """The application_name pg_dump's session carries: the reaper terminates exactly that backend. The run's id
    says which run it is to a person; its UUID keeps it apart from another Lifeboat's run with the same id
    backing up the same server (another installation, or a parallel test)."""
    return f"lifeboat-run-{run.pk}-{run.backup_uuid.hex[:12]}"


def dump_to(run: BackupRun, session: SnapshotSession, final: Path, progress: _Progress) -> DumpResult:
    """Stream pg_dump (in the session's snapshot) through zstd and SHA-256 into `final`, atomically."""
    target = session.target
    argv = [
        pgtools.pg_binary("pg_dump"), *target.cli_args(application_name=backend_name(run)),
        "--format=custom", "--compress=0", f"--snapshot={session.snapshot_id}",
    ]
    env = target.env()
    compressor = zstandard.ZstdCompressor(level=settings.LIFEBOAT_ZSTD_LEVEL, write_checksum=True)
    raw = 0
    head = b""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stderr = pgtools.StderrDrain(proc.stderr)
    try:
        with atomic_file(final, run.pk) as out, encryption.sealing(out, _recipients_for(final)) as sink:
            with compressor.stream_writer(sink, closefd=False) as z:
                while chunk := proc.stdout.read(CHUNK):
                    if len(head) < len(PGDMP_MAGIC):
                        head += chunk[: len(PGDMP_MAGIC)]
                    z.write(chunk)
                    raw += len(chunk)
                    progress(raw)
            returncode = proc.wait()
            message = stderr.join().strip()
            if returncode != 0:
                reason = f"signal {-returncode}" if returncode < 0 else f"status {returncode}"
                raise BackupFailed(f"pg_dump exited with {reason}: {message or 'no message'}")
            if not head.startswith(PGDMP_MAGIC):
                raise BackupFailed(f"pg_dump produced {raw} bytes that are not a custom-format archive")
            if message:
                run.append_log(f"pg_dump said: {message}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    progress(raw, force=True)
    return DumpResult(final, raw, StoredCopy(location=str(final), size_bytes=out.size, sha256=out.sha256),
                      _recipients_for(final))


def _recipients_for(final: Path) -> list[str]:
    """Whom a new file is encrypted to: the configured recipients when its name says `.age`, else nobody."""
    if not encryption.is_encrypted(final.name):
        return []
    recipients = encryption.configured_recipients()
    if not recipients:
        raise BackupFailed(f"{final.name} is to be encrypted but LIFEBOAT_ENCRYPTION_RECIPIENTS is empty")
    return recipients


def globals_path_for(dump_path: Path) -> Path:
    """`<stem>.globals.sql[.age]` beside `<stem>.dump.zst[.age]`, encrypted alike."""
    sealed = encryption.is_encrypted(dump_path.name)
    stem = dump_path.name.removesuffix(encryption.SUFFIX).removesuffix(DUMP_SUFFIX)
    return dump_path.with_name(stem + GLOBALS_SUFFIX + (encryption.SUFFIX if sealed else ""))


def refusal_for(tier: Tier, dump: DumpResult) -> str:
    """Why `tier` must not take this copy, or "" (a tier that requires encryption refuses plain copies)."""
    if tier.requires_encryption and not encryption.is_encrypted(dump.local_path.name):
        return (f"tier {tier} requires encryption and this copy is plain: "
                "set LIFEBOAT_ENCRYPTION_RECIPIENTS to the age public keys")
    return ""


def dump_globals(run: BackupRun, session: SnapshotSession, final: Path) -> StoredCopy | None:
    """Roles and tablespaces (`pg_dumpall --globals-only`), needed to rebuild a lost server.

    Role password hashes (SCRAM verifiers an attacker can crack offline) are left out (`--no-role-passwords`)
    unless LIFEBOAT_GLOBALS_WITH_PASSWORDS asks for them, and then only into an encrypted file; without superuser
    rights pg_authid is unreadable: fall back to --no-role-passwords and say so.
    A missing globals file is not fatal (the database dump itself is still good) but the run lacks a part it
    should have: it becomes "succeeded with warnings" (BackupRun.warnings) and is alerted as a warning.
    """
    target = session.target
    env = target.env()
    base = [pgtools.pg_binary("pg_dumpall"), *target.cli_args(application_name=f"lifeboat-pg_dumpall-run-{run.pk}"),
            f"--database={target.dbname}", "--globals-only"]
    with_passwords = settings.LIFEBOAT_GLOBALS_WITH_PASSWORDS
    if with_passwords and (refusal := passwords_refusal(final)):
        run.add_warning(refusal)
        with_passwords = False
    for extra in ([], ["--no-role-passwords"]) if with_passwords else (["--no-role-passwords"],):
        proc = subprocess.run([*base, *extra], capture_output=True, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode == 0:
            with atomic_file(final, run.pk) as out, encryption.sealing(out, _recipients_for(final)) as sink:
                sink.write(proc.stdout)
            if with_passwords and extra:
                run.append_log("globals saved without role passwords (no superuser access to pg_authid)")
            return StoredCopy(location=str(final), size_bytes=out.size, sha256=out.sha256)
        last_error = proc.stderr.decode(errors="replace").strip()
    run.add_warning(f"globals (roles, tablespaces) not saved: {' '.join(last_error.split()) or 'no message'}")
    return None


def passwords_refusal(final: Path) -> str:
    """Why this globals file may not carry role password hashes, or "" (only an encrypted file may)."""
    if encryption.is_encrypted(final.name):
        return ""
    return ("globals saved without role passwords: LIFEBOAT_GLOBALS_WITH_PASSWORDS needs encryption at rest "
            "(LIFEBOAT_ENCRYPTION_RECIPIENTS)")


def _copy_to_tier(run: BackupRun, tier: Tier, dump: DumpResult, globals_copy: StoredCopy | None,
                  manifest: StoredCopy) -> Artifact:
    """Artifact, then globals, then the manifest: a manifest in a tier always describes a complete copy."""
    storage = storage_for(tier)
    stored: list[StoredCopy] = []
    metadata = {
        "backup-date": run.started_at.strftime("%Y-%m-%d"),
        "database": run.database.name,
        "sha256": dump.stored.sha256,
        "lifeboat-run-id": str(run.pk),
    }
    try:
        if refusal := refusal_for(tier, dump):
            raise StorageError(refusal)
        copy = storage.put(dump.local_path, dump.local_path.name, metadata)
        stored.append(copy)
        if copy.sha256 != dump.stored.sha256:
            raise StorageError(f"{tier} holds a copy whose SHA-256 differs from the dump's")
        globals_location = ""
        if globals_copy:
            globals_stored = storage.put(Path(globals_copy.location), Path(globals_copy.location).name,
                                         {**metadata, "sha256": globals_copy.sha256})
            stored.append(globals_stored)
            globals_location = globals_stored.location
        manifest_path = Path(manifest.location)
        manifest_location = storage.put(manifest_path, manifest_path.name,
                                        {**metadata, "sha256": manifest.sha256}).location
    except Exception as exc:  # one tier failing never spoils the others or the local copy
        log.exception("run %s: storing in tier %s failed", run.pk, tier)
        staged = {str(dump.local_path), globals_copy.location if globals_copy else "", manifest.location}
        for leftover in stored:  # no half-described copy stays behind in this tier (or it is swept later)
            if leftover.location not in staged:
                remove_or_remember(tier, leftover.location, leftover.version_id, run=run,
                                   reason=f"half-stored copy of run #{run.pk}")
        artifact = Artifact.objects.create(
            run=run, tier=tier, status=Artifact.Status.FAILED, location="", error=str(exc) or repr(exc)
        )
        run.append_log(f"tier {tier}: FAILED: {artifact.error}")
        artifact_failed.send(sender=Artifact, artifact=artifact)
        return artifact
    run.append_log(f"tier {tier}: stored {copy.location} ({human_bytes(copy.size_bytes)})")
    return Artifact.objects.create(
        run=run, tier=tier, location=copy.location, size_bytes=copy.size_bytes, sha256=copy.sha256,
        version_id=copy.version_id, etag=copy.etag, storage_class=copy.storage_class,
        remote_checksum=copy.extra.get("remote_checksum", ""), globals_location=globals_location,
        encryption_recipients=dump.recipients, kms_key_id=copy.extra.get("kms_key_id", ""),
        manifest_location=manifest_location,
    )


def execute(run: BackupRun, tiers: list[Tier] | None = None) -> BackupRun:
    """Run `_execute` with the run id bound to every log line it writes (see dashboard/joblog.py), its heartbeat
    written by a thread of its own for the whole run (lock waits, row counts, uploads included)."""
    with joblog.job("backup", run_id=run.pk, database=run.database.name), heartbeat(run):
        log.info("backup started")
        run = _execute(run, tiers)
        log.info("backup %s", run.status)
        return run


def _execute(run: BackupRun, tiers: list[Tier] | None = None) -> BackupRun:
    """Take the dump for a claimed (running) run and store it in every tier. Never raises for a failed dump."""
    database = run.database
    tiers = tiers if tiers is not None else database.backup_tiers()
    local_tiers = [t for t in tiers if t.can(Feature.LOCAL_PATH)]
    # The first local tier receives the dump; without one, a staging directory does and is emptied after.
    staging_tier = local_tiers[0] if local_tiers else Tier(name="staging", kind=Tier.Kind.LOCAL,
                                                          path=str(settings.LIFEBOAT_BACKUP_ROOT / ".staging"))
    trail.record("backup.started", target=run, summary=f"backup of {database.name} started",
                 details={"database": database.name, "source": database.dsn, "tiers": [t.name for t in tiers]})
    staged: list[Path] = []
    try:
        if not tiers:
            raise BackupFailed("no enabled tier to store the backup in")
        run.pg_dump_version = pgtools.client_version("pg_dump")
        target = database.connection_options()
        local = LocalStorage(staging_tier)
        with SnapshotSession(target, run_id=run.pk) as session:
            run.server_version = session.server_version
            run.snapshot_id = session.snapshot_id
            pgtools.check_client_not_older(run.server_version, run.pg_dump_version)
            identity.record_for_backup(run, session.conn)  # before the counting thread takes the connection
            counter = session.count_rows_in_background()
            stem = artifact_stem(database, run.started_at)
            dump = dump_to(run, session, local.unique_path(stem, DUMP_SUFFIX + encryption.suffix()), _Progress(run))
            staged.append(dump.local_path)
            run.row_counts = counter.result()
            run.app_schema_version = session.app_schema_version()
        globals_copy = dump_globals(run, session, globals_path_for(dump.local_path))
        if globals_copy:
            staged.append(Path(globals_copy.location))
            run.globals_name = Path(globals_copy.location).name
            run.globals_sha256 = globals_copy.sha256
        run.raw_size_bytes = dump.raw_size
        run.size_bytes = dump.stored.size_bytes
        run.sha256 = dump.stored.sha256
        run.append_log(f"dumped {human_bytes(dump.raw_size)}, stored {human_bytes(dump.stored.size_bytes)} "
                       f"(sha256 {dump.stored.sha256})")
        from backups.catalog import manifest as catalog  # once the dump is taken: it does not delay pg_dump

        manifest = catalog.write_json(
            dump.local_path.with_name(catalog.manifest_name(dump.local_path.name)),
            catalog.build_manifest(run, dump.local_path.name, is_self=database.is_lifeboat_self,
                                  recipients=dump.recipients), run.pk)
        staged.append(Path(manifest.location))
        artifacts = [_copy_to_tier(run, tier, dump, globals_copy, manifest) for tier in tiers]
        if not any(a.is_live for a in artifacts):
            raise BackupFailed("no tier could store the backup: " + "; ".join(a.error for a in artifacts))
        _succeed(run)
    except Exception as exc:
        if not isinstance(exc, LifeboatError):
            log.exception("backup run %s failed", run.pk)
        for path in staged:  # a failed run leaves no file behind in any local directory
            path.unlink(missing_ok=True)
        for artifact in run.artifacts.filter(status=Artifact.Status.STORED).select_related("tier"):
            for location in (artifact.location, artifact.globals_location, artifact.manifest_location):
                if location and location not in {str(p) for p in staged}:
                    remove_or_remember(artifact.tier, location,
                                       artifact.version_id if location == artifact.location else "",
                                       run=run, reason=f"copy of failed run #{run.pk}")
        run.artifacts.all().delete()
        run.save(update_fields=["pg_dump_version", "server_version", "snapshot_id", "server_system_identifier",
                                "server_port_seen", "database_oid"])
        run.mark_failed(str(exc) if isinstance(exc, LifeboatError) else error_text(exc))
    finally:
        if not local_tiers:
            for path in staged:
                path.unlink(missing_ok=True)
    _announce(run)
    return run


def _succeed(run: BackupRun) -> None:
    """running -> succeeded only if still running: a run the reaper abandoned never comes back as good."""
    run.status = BackupRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    fields = [f.attname for f in BackupRun._meta.concrete_fields if f.attname not in ("id", "status", "heartbeat_at")]
    updated = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.RUNNING).update(
        status=BackupRun.Status.SUCCEEDED, **{name: getattr(run, name) for name in fields})
    if updated != 1:
        run.refresh_from_db(fields=["status", "error"])
        raise BackupFailed(f"the run was {run.status} while it was still working ({run.error}); "
                           "its copies are not kept")


def _announce(run: BackupRun) -> None:
    run.refresh_from_db()
    details = {"database": run.database.name, "status": run.status, "size_bytes": run.size_bytes,
               "sha256": run.sha256, "error": run.error, "warnings": run.warnings,
               "locations": [{"tier": a.tier.name, "location": a.location, "status": a.status}
                             for a in run.artifacts.select_related("tier")]}
    trail.record(f"backup.{run.status}", target=run,
                 summary=f"backup of {run.database.name} {run.status_label.lower()}", details=details)
    backup_finished.send(sender=BackupRun, run=run)


# --- housekeeping ------------------------------------------------------------------------------------------
