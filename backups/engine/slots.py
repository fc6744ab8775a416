"""Slots: at most N dumps and restores at once per PostgreSQL server and per tier, across every worker host.

A job takes one slot of each scope it needs (its server, by identity; each tier it writes or reads) before it
starts, and holds them until it ends. Where Lifeboat's own database is PostgreSQL, a slot is an advisory lock
(`pg_try_advisory_lock` on a key hashed from the scope and the slot number) held on a connection of its own:
when a worker host dies, its connections die and its slots are free at once, whatever the reaper does. On SQLite
(one host by nature) a slot is a `SlotLease` row kept alive by the job's heartbeat thread; a killed worker's row
counts as free once its heartbeat is stale, as its job is then abandoned by the reaper.

A verification is a restore too (into a scratch database, on LIFEBOAT_VERIFY_DSN's server or else the database's
own): it takes a slot of that server and of the tier it reads, like a restore.

A job that finds its slots taken is not slept in a worker: it says why on its page (`waiting`) and returns; it is
queued again when a job of its server ends (`wake_waiting`) and at least every minute (`requeue_waiting`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from backups.errors import LifeboatError
from backups.models import Artifact, BackupRun, Database, Restore, ServerLimit, SlotLease, Tier, Verification
from core.heartbeat import start_heartbeat, stop_heartbeat

log = logging.getLogger(__name__)

# A waiting job's heartbeat is written by every retry and by the minute's sweep: three missed sweeps mean no
# worker is left to run it (the reaper then abandons it).
WAITING_STALE_SECONDS = 180
# Django connection options that are not libpq's (psycopg refuses them).
NOT_LIBPQ = {"pool", "server_side_binding", "isolation_level", "assume_role", "cursor_factory", "prepare_threshold"}


@dataclass(frozen=True)
class Need:
    """One slot of `scope`, of which `limit` exist (0: no limit); `what` names them for people."""

    scope: str
    limit: int
    what: str


def slot_key(scope: str, slot: int) -> int:
    """The advisory lock key of a slot: 64 bits of SHA-256 of the scope and the slot number, signed as bigint."""
    return int.from_bytes(hashlib.sha256(f"lifeboat-slot:{scope}:{slot}".encode()).digest()[:8], "big", signed=True)


def server_identity(database: Database) -> str:
    """The server's system_identifier: recorded at the newest backup, else asked now (and recorded). A server that
    cannot be asked is known by host:port for now; its job fails on its own when it cannot connect."""
    if database.system_identifier:
        return database.system_identifier
    from backups.recovery.identity import ask

    try:
        seen = ask(database.connection_options("postgres"))
    except LifeboatError:
        return f"{database.host}:{database.port}"
    now = timezone.now()
    Database.objects.filter(pk=database.pk).update(system_identifier=seen.system_identifier,
                                                   server_port_seen=seen.port, identity_seen_at=now)
    database.system_identifier, database.server_port_seen, database.identity_seen_at = seen.system_identifier, \
        seen.port, now
    return seen.system_identifier


def server_name(database: Database, sysid: str) -> str:
    label = ServerLimit.objects.filter(system_identifier=sysid).values_list("label", flat=True).first()
    return label or f"{database.host}:{database.port}"


def needs_for(database: Database, tiers: list[Tier]) -> list[Need]:
    sysid = server_identity(database)
    needs = [Need(f"server:{sysid}", ServerLimit.limit_for(sysid),
                  f"dump and restore slots on server {server_name(database, sysid)}")]
    needs += [Need(f"tier:{tier.pk}", settings.LIFEBOAT_MAX_JOBS_PER_TIER, f"slots of tier {tier.name}")
              for tier in tiers if tier.pk]
    return needs


def verification_server_identity(database: Database) -> tuple[str, str]:
    """(identity, name) of the server a database's verifications restore on: LIFEBOAT_VERIFY_DSN's server (asked
    now; known by host:port if it cannot be asked, and the verification then fails on its own), else the
    database's own server, whose slots its backups share."""
    if not settings.LIFEBOAT_VERIFY_DSN:
        sysid = server_identity(database)
        return sysid, server_name(database, sysid)
    from backups.proof.verification import verification_server_for
    from backups.recovery.identity import ask

    try:
        server = verification_server_for(database)
        sysid = ask(server).system_identifier
    except LifeboatError:
        return "verification server", "the verification server"
    label = ServerLimit.objects.filter(system_identifier=sysid).values_list("label", flat=True).first()
    return sysid, label or f"{server.host}:{server.port}"


def verification_needs(artifact: Artifact) -> tuple[str, list[Need]]:
    sysid, name = verification_server_identity(artifact.run.database)
    needs = [Need(f"server:{sysid}", ServerLimit.limit_for(sysid), f"dump and restore slots on server {name}")]
    if artifact.tier_id:
        needs.append(Need(f"tier:{artifact.tier_id}", settings.LIFEBOAT_MAX_JOBS_PER_TIER,
                          f"slots of tier {artifact.tier.name}"))
    return sysid, needs


# --- holding slots -----------------------------------------------------------------------------------------


@dataclass
class Held:
    """Slots held by one job; released on exit of its `with` block (or when its process dies)."""

    holder: str
    scopes: list[str] = field(default_factory=list)
    conn: psycopg.Connection | None = None
    leases: list[SlotLease] = field(default_factory=list)

    def take(self, need: Need) -> bool:
        if need.limit <= 0:
            return True
        for slot in range(need.limit):
            if self._take_one(need.scope, slot):
                self.scopes.append(need.scope)
                return True
        return False

    def _take_one(self, scope: str, slot: int) -> bool:
        if self.conn is not None:
            return self.conn.execute("SELECT pg_try_advisory_lock(%s)", (slot_key(scope, slot),)).fetchone()[0]
        try:
            with transaction.atomic():
                lease = SlotLease.objects.create(scope=scope, slot=slot, holder=self.holder)
        except IntegrityError:
            return False
        start_heartbeat(lease)
        self.leases.append(lease)
        return True

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()  # every advisory lock of the session goes with it
            self.conn = None
        for lease in self.leases:
            stop_heartbeat(lease)
            SlotLease.objects.filter(pk=lease.pk).delete()
        self.leases = []

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        wake_waiting(self.scopes)


def _lock_connection(holder: str) -> psycopg.Connection:
    """A connection of its own to Lifeboat's database, named after the job (pg_locks joins pg_stat_activity)."""
    params = connections["default"].settings_dict
    options = {k: v for k, v in params.get("OPTIONS", {}).items() if k not in NOT_LIBPQ}
    values = {"dbname": params["NAME"], "user": params.get("USER") or None,
              "password": params.get("PASSWORD") or None, "host": params.get("HOST") or None,
              "port": params.get("PORT") or None}
    return psycopg.connect(**{k: v for k, v in values.items() if v is not None}, **options, autocommit=True,
                           application_name=f"lifeboat-slots {holder}"[:63])


def acquire(needs: list[Need], holder: str) -> Held | str:
    """All of `needs`, or none of them and why ("2 of 2 dump and restore slots on server X in use")."""
    held = Held(holder)
    if connections["default"].vendor == "postgresql":
        held.conn = _lock_connection(holder)
    else:
        stale = timezone.now() - timedelta(seconds=settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS)
        SlotLease.objects.filter(scope__in=[n.scope for n in needs], heartbeat_at__lt=stale).delete()
    for need in needs:
        if not held.take(need):
            held.release()
            return f"{need.limit} of {need.limit} {need.what} in use"
    return held


# --- waiting -----------------------------------------------------------------------------------------------


def _say_waiting(model, pk: int, reason: str) -> bool:
    """Record why a queued job waits; its heartbeat is written too (it is alive, in the queue, not lost)."""
    return model.objects.filter(pk=pk, status="queued").update(waiting=f"waiting: {reason}",
                                                               heartbeat_at=timezone.now()) == 1


def take_or_wait(model, pk: int, needs: list[Need], holder: str) -> Held | None:
    """The slots, or None once the job is marked waiting. Tried once more after marking it: a slot freed between
    the first try and the mark woke nobody (this job was not yet waiting), and must not be missed."""
    result = acquire(needs, holder)
    if isinstance(result, Held):
        return result
    if not _say_waiting(model, pk, result):
        return None
    result = acquire(needs, holder)
    return result if isinstance(result, Held) else None


def backup_slots(run: BackupRun) -> Held | None:
    return take_or_wait(BackupRun, run.pk, needs_for(run.database, run.database.backup_tiers()),
                        f"backup run #{run.pk}")


def restore_slots(record: Restore) -> Held | None:
    artifact = record.artifact
    return take_or_wait(Restore, record.pk, needs_for(artifact.run.database, [artifact.tier]),
                        f"restore #{record.pk}")


def verification_slots(record: Verification) -> Held | None:
    sysid, needs = verification_needs(record.artifact)
    if sysid.isdigit():  # the server it waits for: a slot freed there wakes it (wake_waiting)
        Verification.objects.filter(pk=record.pk, status=Verification.Status.QUEUED).update(
            server_system_identifier=sysid)
    return take_or_wait(Verification, record.pk, needs, f"verification #{record.pk}")


def waiting_verifications():
    return (Verification.objects.filter(status=Verification.Status.QUEUED).exclude(waiting="")
            .order_by("created_at"))


def waiting_backups():
    return BackupRun.objects.filter(status=BackupRun.Status.QUEUED).exclude(waiting="").order_by("created_at")


def waiting_restores():
    return Restore.objects.filter(status=Restore.Status.QUEUED).exclude(waiting="").order_by("created_at")


def _requeue(runs, restores, verifications=()) -> int:
    from django_q.tasks import async_task

    count = 0
    for verification_id, artifact_id in verifications:
        async_task("backups.tasks.verify_artifact", artifact_id, verification_id,
                   task_name=f"verification #{verification_id} (again)")
        count += 1
    for run_id, name in runs:
        async_task("backups.tasks.run_queued_backup", run_id, task_name=f"backup {name} #{run_id} (again)")
        count += 1
    for restore_id in restores:
        async_task("backups.tasks.run_restore", restore_id, task_name=f"restore #{restore_id} (again)")
        count += 1
    return count


def wake_waiting(scopes: list[str], how_many: int = 2) -> int:
    """A job ended: the oldest waiting jobs of its server (backups, restores, verifications) go back to the queue
    (a tier's waiters wait for the minute's sweep)."""
    sysids = [s.removeprefix("server:") for s in scopes if s.startswith("server:")]
    if not sysids:
        return 0
    try:
        runs = list(waiting_backups().filter(database__system_identifier__in=sysids)
                    .values_list("pk", "database__name")[:how_many])
        restores = list(waiting_restores().filter(artifact__run__database__system_identifier__in=sysids)
                        .values_list("pk", flat=True)[:how_many])
        verifications = list(waiting_verifications().filter(server_system_identifier__in=sysids)
                             .values_list("pk", "artifact_id")[:how_many])
        return _requeue(runs, restores, verifications)
    except Exception:  # the minute's sweep queues them anyway: a failed wake must not fail the job that ended
        log.warning("waiting jobs not woken", exc_info=True)
        return 0


def _oldest_per_server(waiting, server: str, how_many: int):
    """The oldest `how_many` of `waiting` on each server (by the identity at `server`), by a window function."""
    nth = Window(RowNumber(), partition_by=[F(server)], order_by=[F("created_at").asc(), F("pk").asc()])
    return waiting.annotate(nth=nth).filter(nth__lte=how_many)


def requeue_waiting() -> int:
    """Every minute: the oldest waiting jobs of each server go back to the queue (a freed slot whose wake was lost,
    a limit raised in the admin), twice as many of each kind as the largest limit: the others would only find the
    server full again (a fleet's weekly re-verification is thousands). Every waiting job's heartbeat is written:
    it is alive, in the queue, and not reaped."""
    now = timezone.now()
    limits = [settings.LIFEBOAT_MAX_JOBS_PER_SERVER, *ServerLimit.objects.values_list("max_jobs", flat=True)]
    how_many = 2 * max(1, *limits)
    waiting_backups().update(heartbeat_at=now)
    waiting_restores().update(heartbeat_at=now)
    waiting_verifications().update(heartbeat_at=now)
    runs = list(_oldest_per_server(waiting_backups(), "database__system_identifier", how_many)
                .values_list("pk", "database__name"))
    restores = list(_oldest_per_server(waiting_restores(), "artifact__run__database__system_identifier", how_many)
                    .values_list("pk", flat=True))
    verifications = list(_oldest_per_server(waiting_verifications(), "server_system_identifier", how_many)
                         .values_list("pk", "artifact_id"))
    return _requeue(runs, restores, verifications)
