"""Backup history, a run's page, and the operations a DBA starts from them (all queued to django-q2)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from backups import tasks
from backups.engine import pipeline
from backups.errors import AlreadyRunning, LifeboatError
from backups.models import Artifact, BackupRun, Database, Feature, Tier
from backups.recovery import rows
from backups.recovery.table_selection import split_table_list
from backups.web import history, overview, panels, queue
from backups.web.trends import Trends
from core.http import back_to
from core.roles import MANAGE_STORAGE, REPLACE_DATABASE, RUN_OPERATIONS

HISTORY_PAGE_SIZE = 50
RECENT_RUNS = 20


@login_required
@permission_required("backups.view_backuprun", raise_exception=True)
def run_list(request):
    filters = history.HistoryFilters.from_query(request.GET)
    page = Paginator(history.runs(filters), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = history.mark_proven(list(page.object_list))
    context = {"page": page, "filters": filters, "choices": history.filter_choices()}
    template = "backups/run_list.html#run-table" if request.htmx else "backups/run_list.html"
    return render(request, template, context)


@login_required
@permission_required("backups.view_backuprun", raise_exception=True)
def queue_view(request):
    """What runs now, what waits and why, what runs next (windows placed), and each server's limit."""
    running_runs, running_restores, running_checks = queue.running_now()
    waiting_runs, waiting_restores, waiting_checks = queue.waiting_now()
    context = {"running_runs": running_runs, "running_restores": running_restores, "running_checks": running_checks,
               "waiting_runs": waiting_runs, "waiting_restores": waiting_restores, "waiting_checks": waiting_checks,
               "next_runs": queue.next_runs(), "servers": queue.server_loads()}
    template = "backups/queue.html#queue" if request.htmx else "backups/queue.html"
    return render(request, template, context)


@login_required
@permission_required("backups.view_backuprun", raise_exception=True)
def database_detail(request, name: str):
    """One database: where it stands in every tier, how its backups trend, and its newest runs."""
    database = get_object_or_404(Database, name=name)
    now = timezone.now()
    tiers = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS).order_by("position", "name"))
    row = overview.freshness_matrix(tiers, now, databases=Database.objects.filter(pk=database.pk))[0]
    runs = BackupRun.objects.filter(database=database).select_related("database").order_by("-created_at")
    context = {"database": database, "now": now, "cells": list(zip(tiers, row.cells, strict=True)),
               "runs": runs[:RECENT_RUNS], "trends": Trends.of(database).charts(database.name),
               "next_run": database.next_run_after(now) if database.enabled else None,
               "panels": panels.render_panels(request, database)}
    return render(request, "backups/database_detail.html", context)


def _run_context(run: BackupRun) -> dict:
    artifacts = list(run.artifacts.select_related("tier").prefetch_related("verifications", "restores"))
    return {"run": run, "artifacts": artifacts,
            "busy": run.is_active or any(op.status in ("queued", "running") for a in artifacts
                                          for op in [*a.verifications.all(), *a.restores.all()])}


@login_required
@permission_required("backups.view_backuprun", raise_exception=True)
def run_detail(request, pk: int):
    run = get_object_or_404(BackupRun.objects.select_related("database", "requested_by"), pk=pk)
    template = "backups/run_detail.html#operations" if request.htmx else "backups/run_detail.html"
    return render(request, template, _run_context(run))


@login_required
@require_POST
@permission_required(RUN_OPERATIONS, raise_exception=True)
def verify(request, artifact_id: int):
    artifact = get_object_or_404(Artifact.objects.live().select_related("run__database", "tier"), pk=artifact_id)
    tasks.queue_verification(artifact, user=request.user)
    messages.info(request, f"Verification of the {artifact.tier.name} copy queued.")
    return back_to(request, artifact.run)


@login_required
@require_POST
@permission_required(RUN_OPERATIONS, raise_exception=True)
def restore_new(request, artifact_id: int):
    artifact = get_object_or_404(Artifact.objects.live().select_related("run__database", "tier"), pk=artifact_id)
    target = request.POST.get("target_database", "").strip()
    tables = split_table_list(request.POST.get("tables", ""))
    try:
        record = tasks.queue_restore(artifact, target, tables=tables, user=request.user)
    except LifeboatError as exc:
        messages.error(request, f"Restore refused: {exc}")
    else:
        messages.info(request, f"Restore into {record.target_database} queued.")
    return back_to(request, artifact.run)


@login_required
@require_POST
@permission_required(REPLACE_DATABASE, raise_exception=True)
def replace_production(request, artifact_id: int):
    """Restore over the production database (a forensic copy kept first), confirmed by its name typed again."""
    artifact = get_object_or_404(Artifact.objects.live().select_related("run__database", "tier"), pk=artifact_id)
    try:
        tasks.queue_replace(artifact, request.POST.get("confirm_name", "").strip(), user=request.user)
    except LifeboatError as exc:
        messages.error(request, f"Production not replaced: {exc}")
    else:
        messages.info(request, f"Replacing {artifact.run.database.dbname} with this copy: queued. Production is "
                               f"kept as a forensic copy first; the steps appear below.")
    return back_to(request, artifact.run)


@login_required
@require_POST
@permission_required(RUN_OPERATIONS, raise_exception=True)
def recover_rows(request, artifact_id: int):
    """Compare chosen tables with production (a dry run), then, confirmed, insert the rows production is missing."""
    artifact = get_object_or_404(Artifact.objects.live().select_related("run__database", "tier"), pk=artifact_id)
    tables = split_table_list(request.POST.get("tables", ""))
    confirmed = request.POST.get("confirm") == "insert"
    try:
        result = rows.recover_rows(artifact, tables, dry_run=not confirmed, user=request.user)
    except LifeboatError as exc:
        messages.error(request, f"Rows not recovered: {exc}")
        return back_to(request, artifact.run)
    if confirmed:
        messages.success(request, "Recovered into production: " + "; ".join(
            f"{t.table}: {t.inserted} rows inserted" + (f", {t.skipped} skipped (conflict)" if t.skipped else "")
            for t in result.tables))
        return back_to(request, artifact.run)
    return render(request, "backups/recover_rows.html", {"artifact": artifact, "result": result,
                                                          "tables": request.POST.get("tables", ""),
                                                          "missing": sum(t.missing for t in result.tables)})


@login_required
@require_POST
@permission_required(MANAGE_STORAGE, raise_exception=True)
def restore_archived(request, artifact_id: int):
    """Ask S3 to restore a copy from GLACIER / DEEP_ARCHIVE (billed, hours): the worker requests it, the schedule
    checks and promotes it once readable; audited as catalog.restore_requested / catalog.restored."""
    artifact = get_object_or_404(Artifact.objects.select_related("run__database", "tier"), pk=artifact_id,
                                 status=Artifact.Status.ARCHIVED)
    if artifact.restore_state:
        messages.info(request, f"The restore of this copy from {artifact.storage_class} was already requested.")
    else:
        tasks.queue_archived_restore(artifact, user=request.user)
        messages.info(request, f"Restore of the {artifact.tier.name} copy from {artifact.storage_class} requested: "
                               "S3 takes hours; the copy is checked and made readable when it is restored.")
    return back_to(request, artifact.run)


@login_required
@require_POST
@permission_required(RUN_OPERATIONS, raise_exception=True)
def backup_now(request, database_id: int):
    database = get_object_or_404(Database, pk=database_id)
    try:
        run = pipeline.queue_backup(database, user=request.user)
    except AlreadyRunning as exc:
        messages.warning(request, str(exc))
        return back_to(request, database)
    messages.info(request, f"Backup of {database.name} queued as run #{run.pk}.")
    return back_to(request, run)
