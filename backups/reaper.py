"""The reaper: a job whose heartbeat stopped is abandoned, and what it left behind is cleaned.

Every kind of job writes `heartbeat_at` from its own thread (core/heartbeat.py) while it runs, whatever it waits on,
so a stale heartbeat means the worker is gone (killed, frozen, its host lost). For each kind:

- backup: its pg_dump's backend (application_name `lifeboat-run-<id>-<its UUID>` on its database, and only that
  one) is terminated *before* the run leaves `running`, so no second pg_dump of the database can start beside it;
  then its files (partial or finished but unrecorded) and unfinished uploads are removed;
- verification: its scratch database is dropped and its temporary files removed;
- restore (and a drill's restore): the half-restored database it created is dropped (never a protected one);
- evidence export: its partial package is removed.

Each transition is a conditional UPDATE on (status, heartbeat_at) as read: a job that beat meanwhile is left alone.
Run by the `lifeboat:mark-abandoned` schedule and `manage.py mark_abandoned`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit import trail
from backups.conninfo import ConnectionOptions
from backups.engine.slots import WAITING_STALE_SECONDS
from backups.errors import LifeboatError
from backups.models import Artifact, BackupRun, Database, Leftover, Restore, Tier, Verification
from backups.reaper_kinds import extra_kinds
from backups.signals import backup_finished
from backups.storage import storage_for
from backups.storage.leftovers import local_roots, remember_upload, remove_or_remember, sweep_verify_temp

log = logging.getLogger(__name__)


@dataclass
class Reaped:
    runs: list[BackupRun] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    restores: list[Restore] = field(default_factory=list)
    others: list = field(default_factory=list)  # other apps' jobs (evidence exports), reaped through `extra_kinds`

    def __len__(self) -> int:
        return len(self.runs) + len(self.verifications) + len(self.restores) + len(self.others)


def stale_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS)


def stale(queryset, now: datetime):
    """Rows whose heartbeat is older than the stale period; one never written counts from the job's start (or its
    creation: a job claimed by a worker that died before it began)."""
    last_sign = Coalesce("heartbeat_at", "started_at", "created_at")
    return queryset.alias(last_sign=last_sign).filter(last_sign__lt=stale_cutoff(now))


def still_waiting(now: datetime) -> dict:
    """A queued run waiting for a slot is alive while the minute's sweep re-queues it (each time writing its
    heartbeat): it is stale only after a few missed sweeps, however short the running jobs' stale period is."""
    seconds = max(settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS, WAITING_STALE_SECONDS)
    return {"status": BackupRun.Status.QUEUED, "waiting__gt": "", "heartbeat_at__gte": now - timedelta(seconds=seconds)}


def why(heartbeat_at: datetime | None) -> str:
    since = f"since {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if heartbeat_at else "ever"
    return f"no heartbeat {since}: the worker died or was killed"


def abandon(model, row, status: str, **fields) -> bool:
    """The conditional UPDATE: only a row still in the state and heartbeat we read."""
    return model.objects.filter(pk=row.pk, status=row.status, heartbeat_at=row.heartbeat_at).update(
        status=status, **fields) == 1


# Other apps add their job kinds (evidence exports) to backups.reaper_kinds.extra_kinds.


def reap(now: datetime | None = None) -> Reaped:
    now = now or timezone.now()
    reaped = Reaped()
    for run in stale(BackupRun.objects.active(), now).exclude(**still_waiting(now)).select_related("database"):
        if reap_run(run, now):
            reaped.runs.append(run)
    for record in stale(Verification.objects.filter(status=Verification.Status.RUNNING), now).select_related(
            "artifact__run__database", "artifact__tier"):
        if reap_verification(record, now):
            reaped.verifications.append(record)
    for record in stale(Restore.objects.filter(status=Restore.Status.RUNNING), now).select_related(
            "artifact__run__database", "artifact__tier"):
        if reap_restore(record, now):
            reaped.restores.append(record)
    for kind in extra_kinds:
        reaped.others.extend(kind(now))
    return reaped


# --- backups -----------------------------------------------------------------------------------------------


def terminate_pg_dump(run: BackupRun) -> int:
    """Terminate the source backend whose application_name is the run's (its pg_dump) on the run's database, and
    no other."""
    from backups.engine.pipeline import backend_name

    with run.database.connection_options("postgres").connect(application_name="lifeboat-reaper") as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = %s AND datname = %s AND pid <> pg_backend_pid()",
                            (backend_name(run), run.database.dbname)).fetchall()
    return sum(1 for (ok,) in rows if ok)


def reap_run(run: BackupRun, now: datetime) -> bool:
    reason = why(run.heartbeat_at)
    if run.status == BackupRun.Status.RUNNING:
        try:
            if terminate_pg_dump(run):
                reason += "; its pg_dump was terminated"
        except LifeboatError as exc:  # the source is unreachable: no new pg_dump can start there either
            reason += f"; its pg_dump could not be terminated ({exc})"
    run.append_log(f"ABANDONED: {reason}")
    if not abandon(BackupRun, run, BackupRun.Status.ABANDONED, finished_at=now, error=reason, log=run.log):
        return False
    run.refresh_from_db()
    removed = clean_run_files(run)
    trail.record("backup.abandoned", target=run, summary=f"backup of {run.database.name} abandoned",
                 details={"error": run.error, "removed": removed})
    backup_finished.send(sender=BackupRun, run=run)
    return True


def clean_run_files(run: BackupRun) -> list[str]:
    """The run's files in every local directory (partial or finished) and its objects and unfinished uploads
    in every S3 tier, unless an artifact records them (nothing another run owns is touched)."""
    from backups.engine.pipeline import artifact_stem

    if run.started_at is None:
        return []
    stem = artifact_stem(run.database, run.started_at)
    recorded = set()
    others = Artifact.objects.exclude(run=run).filter(
        Q(location__contains=stem) | Q(globals_location__contains=stem) | Q(manifest_location__contains=stem))
    for a in others:
        recorded.update(p for p in (a.location, a.globals_location, a.manifest_location) if p)
    names, removed = set(), []
    for root in local_roots():
        if not root.is_dir():
            continue
        for path in root.glob(f"{stem}*"):
            if str(path) in recorded or not path.is_file():
                continue
            names.add(path.name.split(f".run-{run.pk}.partial")[0].removesuffix(".partial"))
            path.unlink(missing_ok=True)
            removed.append(str(path))
    for artifact in run.artifacts.filter(status=Artifact.Status.STORED).select_related("tier"):
        if artifact.tier.kind == Tier.Kind.S3:  # local ones went with the files above
            for location in (artifact.location, artifact.globals_location, artifact.manifest_location):
                if location:
                    remove_or_remember(artifact.tier, location,
                                       artifact.version_id if location == artifact.location else "",
                                       run=run, reason=f"copy of abandoned run #{run.pk}")
                    recorded.add(location)
    run.artifacts.all().delete()  # an abandoned run has no copies
    for tier in [t for t in run.database.backup_tiers() if t.kind == Tier.Kind.S3]:
        try:
            storage = storage_for(tier)
        except LifeboatError:
            continue
        for name in names:  # stored or half-uploaded before the kill, never recorded
            key = storage.key_for(name)
            if key in recorded:
                continue
            if storage.abort_uploads(key) is None:
                remember_upload(tier, key, "S3 unreachable while cleaning an abandoned run", run=run)
            try:
                storage.delete_versions(key)
            except LifeboatError as exc:
                Leftover.objects.create(tier=tier, location=key, run=run, last_error=str(exc),
                                        reason=f"object of abandoned run #{run.pk}")
    return removed


# --- verifications -----------------------------------------------------------------------------------------


def reap_verification(record: Verification, now: datetime) -> bool:
    from backups.proof.verification import announce, verification_server
    from backups.recovery.restore import drop_database

    reason = why(record.heartbeat_at)
    if not abandon(Verification, record, Verification.Status.ABANDONED, finished_at=now, error=reason):
        return False
    record.refresh_from_db()
    if record.scratch_database:
        try:
            drop_database(verification_server(record.artifact), record.scratch_database)
        except LifeboatError as exc:  # the hourly scratch sweep tries again
            log.warning("scratch database %s of verification %s not dropped: %s", record.scratch_database,
                        record.pk, exc)
    sweep_verify_temp()
    announce(record, None)
    return True


# --- restores ----------------------------------------------------------------------------------------------


def _restore_server(record: Restore) -> ConnectionOptions:
    """The server a restore wrote to, with the secret of whichever configured server it is."""
    from backups.proof.verification import verification_server

    target = ConnectionOptions.parse(record.target_dsn).with_dbname("postgres")
    database = record.artifact.run.database
    if (target.host, target.port) == (database.host, database.port):
        return database.connection_options("postgres")
    verify_server = verification_server(record.artifact)
    if (target.host, target.port) == (verify_server.host, verify_server.port):
        return verify_server.with_dbname("postgres")
    return target  # another server: its DSN's own options (a passfile), no password


def reap_restore(record: Restore, now: datetime) -> bool:
    from backups.recovery.restore import announce, drop_database

    reason = why(record.heartbeat_at)
    if not abandon(Restore, record, Restore.Status.ABANDONED, finished_at=now, error=reason):
        return False
    record.refresh_from_db()
    protected = Database.objects.filter(dbname=record.target_database).exists()
    if record.mode != Restore.Mode.REPLACE and record.target_dsn and not protected:
        try:  # half-restored: not left to be mistaken for a good copy
            drop_database(_restore_server(record), record.target_database)
            record.log += f"half-restored database {record.target_database} dropped by the reaper\n"
            Restore.objects.filter(pk=record.pk).update(log=record.log)
        except LifeboatError as exc:
            log.warning("restore %s: %s not dropped: %s", record.pk, record.target_database, exc)
    announce(record, None)
    return True
