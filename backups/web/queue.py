"""The queue view's facts: what runs now, what waits and why, what runs next, and each server's limit. Every
query is bounded (the next NEXT_RUNS schedules, the oldest WAITING_SHOWN waiters) whatever the fleet's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q
from django_q.models import Schedule

from backups.models import BackupRun, Database, Restore, ServerLimit, Verification

NEXT_RUNS = 100
WAITING_SHOWN = 200


@dataclass(frozen=True)
class NextRun:
    at: datetime
    database: Database | None
    name: str
    cron: str


@dataclass(frozen=True)
class ServerLoad:
    system_identifier: str
    name: str
    databases: int
    running: int
    waiting: int
    limit: int


def running_now():
    runs = BackupRun.objects.filter(status=BackupRun.Status.RUNNING).select_related("database").order_by("started_at")
    restores = Restore.objects.filter(status=Restore.Status.RUNNING).select_related(
        "artifact__run__database").order_by("started_at")
    checks = Verification.objects.filter(status=Verification.Status.RUNNING).select_related(
        "artifact__run__database", "artifact__tier").order_by("started_at")
    return list(runs[:WAITING_SHOWN]), list(restores[:WAITING_SHOWN]), list(checks[:WAITING_SHOWN])


def waiting_now():
    runs = (BackupRun.objects.filter(status=BackupRun.Status.QUEUED).select_related("database")
            .order_by("created_at"))
    restores = (Restore.objects.filter(status=Restore.Status.QUEUED).select_related("artifact__run__database")
                .order_by("created_at"))
    checks = (Verification.objects.filter(status=Verification.Status.QUEUED)
              .select_related("artifact__run__database", "artifact__tier").order_by("created_at"))
    return list(runs[:WAITING_SHOWN]), list(restores[:WAITING_SHOWN]), list(checks[:WAITING_SHOWN])


def next_runs(limit: int = NEXT_RUNS) -> list[NextRun]:
    schedules = list(Schedule.objects.filter(name__startswith="backup:").exclude(next_run=None)
                     .order_by("next_run")[:limit])
    names = [s.name.removeprefix("backup:") for s in schedules]
    databases = {d.name: d for d in Database.objects.filter(name__in=names)}
    return [NextRun(s.next_run, databases.get(s.name.removeprefix("backup:")), s.name.removeprefix("backup:"),
                    s.cron or "") for s in schedules]


def server_loads() -> list[ServerLoad]:
    """One row per known server (by identity): how many databases, running and waiting backups, and its limit.
    Only active runs are counted (the partial index of one_active_backup_per_database), never the history."""
    databases = dict(Database.objects.exclude(system_identifier="").values("system_identifier")
                     .annotate(n=Count("pk")).order_by().values_list("system_identifier", "n"))
    active = (BackupRun.objects.active().exclude(database__system_identifier="")
              .values_list("database__system_identifier").annotate(
                  running=Count("pk", filter=Q(status=BackupRun.Status.RUNNING)),
                  waiting=Count("pk", filter=Q(status=BackupRun.Status.QUEUED))).order_by())
    counts = {sysid: (running, waiting) for sysid, running, waiting in active}
    limits = {s.system_identifier: s for s in ServerLimit.objects.filter(system_identifier__in=databases)}
    hosts = dict(Database.objects.exclude(system_identifier="").order_by("system_identifier", "-name")
                 .values_list("system_identifier", "host"))
    loads = []
    for sysid in sorted(databases):
        own = limits.get(sysid)
        running, waiting = counts.get(sysid, (0, 0))
        loads.append(ServerLoad(sysid, own.label if own and own.label else hosts.get(sysid, ""), databases[sysid],
                                running, waiting, own.max_jobs if own else settings.LIFEBOAT_MAX_JOBS_PER_SERVER))
    return loads
