"""Evidence pages for auditors: export a period (queued to django-q2), download it, sample its backups."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit import trail
from backups.models import BackupRun
from core.http import back_to, form_errors
from core.roles import EXPORT_EVIDENCE
from evidence import sampling
from evidence.export import queue_export
from evidence.forms import SampleForm, ScopeForm
from evidence.models import EvidenceExport, EvidenceSample
from evidence.signing import signing_key


def _last_month() -> dict:
    today = timezone.now().date()
    return {"since": today - timedelta(days=30), "until": today}


@login_required
@permission_required(EXPORT_EVIDENCE, raise_exception=True)
def index(request):
    exports = EvidenceExport.objects.select_related("requested_by")[:20]
    context = {"form": ScopeForm(initial=_last_month()), "sample_form": SampleForm(initial=_last_month()),
               "exports": exports, "busy": any(e.is_active for e in exports),
               "samples": EvidenceSample.objects.all()[:10], "signing": signing_key()}
    template = "evidence/index.html#exports" if request.htmx else "evidence/index.html"
    return render(request, template, context)


@login_required
@require_POST
@permission_required(EXPORT_EVIDENCE, raise_exception=True)
def export_create(request):
    form = ScopeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Export refused: " + form_errors(form))
        return back_to(request, "evidence:index")
    export = queue_export(form.cleaned_data["scope"], request.user)
    messages.info(request, f"Evidence export #{export.pk} queued.")
    return back_to(request, "evidence:index")


@login_required
@permission_required(EXPORT_EVIDENCE, raise_exception=True)
def export_download(request, pk: int):
    export = get_object_or_404(EvidenceExport, pk=pk, status=EvidenceExport.Status.DONE)
    try:
        handle = open(export.file_path, "rb")  # noqa: SIM115 (FileResponse closes it)
    except OSError:
        raise Http404("the package file is no longer on disk") from None
    trail.record("evidence.downloaded", actor=request.user, target=export,
                 summary=f"evidence package #{export.pk} downloaded", details={"sha256": export.sha256})
    return FileResponse(handle, as_attachment=True, filename=export.filename, content_type="application/zip")


@login_required
@permission_required(EXPORT_EVIDENCE, raise_exception=True)
def population(request):
    """A period's population of backups, and the sample picker beside it."""
    form = ScopeForm(request.GET or None, initial=_last_month())
    runs = sampling.population(form.cleaned_data["scope"]) if form.is_valid() else BackupRun.objects.none()
    page = Paginator(runs.select_related("database"), 100).get_page(request.GET.get("page"))
    sample_form = SampleForm(initial=request.GET.dict() if form.is_valid() else _last_month())
    template = "evidence/population.html#runs" if request.htmx else "evidence/population.html"
    return render(request, template, {"form": form, "page": page, "sample_form": sample_form,
                                      "querystring": request.GET.urlencode()})


@login_required
@require_POST
@permission_required(EXPORT_EVIDENCE, raise_exception=True)
def sample_create(request):
    form = SampleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Sample refused: " + form_errors(form))
        return back_to(request, "evidence:population")
    sample = sampling.take_sample(form.cleaned_data["scope"], form.cleaned_data["size"],
                                  seed=form.cleaned_data["seed"], user=request.user)
    return back_to(request, reverse("evidence:sample_detail", args=[sample.pk]))


@login_required
@permission_required(EXPORT_EVIDENCE, raise_exception=True)
def sample_detail(request, pk: int):
    sample = get_object_or_404(EvidenceSample, pk=pk)
    runs = {r.pk: r for r in BackupRun.objects.filter(pk__in=sample.picked_run_ids).select_related(
        "database", "requested_by").prefetch_related("artifacts__tier", "artifacts__verifications")}
    scope = sampling.Scope(sample.since, sample.until, tuple(sample.databases))
    redrawn = sampling.draw(list(sampling.population(scope).values_list("id", flat=True)), sample.size, sample.seed)
    return render(request, "evidence/sample.html", {
        "sample": sample, "runs": [runs.get(pk) for pk in sample.picked_run_ids],
        "reproduced": redrawn == sample.picked_run_ids})


