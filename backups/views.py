from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from backups.models import BackupRun


@login_required
def run_list(request):
    runs = BackupRun.objects.select_related("database").order_by("-created_at")
    if request.GET.get("database"):
        runs = runs.filter(database__name=request.GET["database"])
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    template = "backups/run_list.html#run-table" if request.htmx else "backups/run_list.html"
    return render(request, template, {"page": page})


@login_required
def run_detail(request, pk: int):
    run = get_object_or_404(BackupRun.objects.select_related("database"), pk=pk)
    artifacts = run.artifacts.select_related("tier")
    return render(request, "backups/run_detail.html", {"run": run, "artifacts": artifacts})
