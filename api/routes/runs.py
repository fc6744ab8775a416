"""Runs: the history with its filters, a run with its copies and their proofs, and starting a backup."""

from __future__ import annotations

from datetime import date

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from api import present
from api.auth import needs
from api.changes import as_token, record
from api.models import Scope
from api.problems import Problem
from api.schemas import Accepted, ProblemOut, RunDetail, RunPage, RunSort, RunStatus
from backups.engine import pipeline
from backups.errors import AlreadyRunning
from backups.models import BackupRun, Database
from backups.web import history
from core.roles import RUN_OPERATIONS

router = Router(tags=["runs"])
VIEW = needs(Scope.READ, "backups.view_backuprun")


@router.get("/runs", response=RunPage, auth=VIEW, url_name="runs")
def list_runs(request, database: str = "", tier: str = "", status: RunStatus | None = None,
              since: date | None = None, until: date | None = None, verified: bool | None = None,
              sort: RunSort = "started", page: int = 1):
    """The backup history, filtered and sorted exactly as the dashboard's history page."""
    filters = history.HistoryFilters(database=database, tier=tier, status=status or "", since=since, until=until,
                                     verified="" if verified is None else ("yes" if verified else "no"), sort=sort)
    runs = history.runs(filters).select_related("requested_by")
    return present.page_of(request, runs, page, lambda rows: [present.run(r) for r in history.mark_proven(rows)])


@router.get("/runs/{run_id}", response=RunDetail, auth=VIEW, url_name="run")
def run_detail(request, run_id: int):
    run = get_object_or_404(BackupRun.objects.select_related("database", "requested_by"), pk=run_id)
    copies = list(run.artifacts.select_related("tier").with_verdict().prefetch_related(
        "verifications__requested_by", "restores__requested_by"))
    proven = any(c.verdict == "passed" for c in copies)
    return {**present.run(run, proven), "pg_dump_version": run.pg_dump_version,
            "server_version": run.server_version, "raw_size_bytes": run.raw_size_bytes,
            "row_counts": run.row_counts, "copies": [present.copy(c) for c in copies]}


@router.post("/databases/{name}/backups", response={202: Accepted, 409: ProblemOut},
             auth=needs(Scope.OPERATE, RUN_OPERATIONS), url_name="start_backup")
def start_backup(request, name: str, response: HttpResponse):
    """Queue a backup now (the dashboard's "Back up now"); 409 with the run's URL when one is queued or running."""
    database = get_object_or_404(Database, name=name)
    with as_token(request):
        try:
            run = pipeline.queue_backup(database, user=request.auth.owner, trigger=BackupRun.Trigger.API)
        except AlreadyRunning as exc:
            active = BackupRun.objects.active().filter(database=database).first()
            where = present.url("run", run_id=active.pk) if active else None
            raise Problem(409, str(exc), kind="backup-already-active", run_url=where,
                          headers={"Location": where} if where else {}) from None
        record(request, "api.backup_requested", target=run, summary=f"backup of {database.name} queued as run "
               f"#{run.pk} through the API", database=database.name, run=run.pk)
    response["Location"] = present.url("run", run_id=run.pk)
    return Status(202, {"id": run.pk, "status": run.status, "url": response["Location"],
                        "web_url": run.get_absolute_url()})
