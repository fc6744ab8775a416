"""Evidence packages for auditors: ask for one (built by a worker), follow it, download it."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from api import present
from api.auth import needs
from api.changes import as_token, record
from api.models import Scope
from api.problems import Problem
from api.schemas import Accepted, EvidenceExportIn, EvidenceExportOut, ProblemOut
from api.tokens import token_actor
from audit import trail
from core.roles import EXPORT_EVIDENCE
from evidence.export import queue_export
from evidence.models import EvidenceExport
from evidence.period import Scope as Period
from evidence.period import ScopeError

router = Router(tags=["evidence"])
READ = needs(Scope.READ, EXPORT_EVIDENCE)


@router.post("/evidence-exports", response={202: Accepted, 422: ProblemOut},
             auth=needs(Scope.OPERATE, EXPORT_EVIDENCE), url_name="create_evidence_export")
def create_export(request, payload: EvidenceExportIn, response: HttpResponse):
    try:
        period = Period.build(payload.since, payload.until, payload.databases)
    except ScopeError as exc:
        raise Problem(422, f"export refused: {exc}", kind="invalid-request") from None
    with as_token(request):
        export = queue_export(period, request.auth.owner)
        record(request, "api.evidence_export_requested", target=export,
               summary=f"evidence export #{export.pk} ({period.since}..{period.until}) queued through the API",
               period=period.describe())
    response["Location"] = present.url("evidence_export", export_id=export.pk)
    return Status(202, {"id": export.pk, "status": export.status, "url": response["Location"], "web_url": None})


@router.get("/evidence-exports/{export_id}", response=EvidenceExportOut, auth=READ, url_name="evidence_export")
def export_status(request, export_id: int):
    return present.evidence_export(get_object_or_404(EvidenceExport, pk=export_id))


@router.get("/evidence-exports/{export_id}/download", auth=READ, url_name="evidence_download",
            response={200: None, 404: ProblemOut, 409: ProblemOut}, openapi_extra={
                "responses": {200: {"description": "The package (a zip)",
                                    "content": {"application/zip": {"schema": {"type": "string",
                                                                               "format": "binary"}}}}}})
def export_download(request, export_id: int):
    export = get_object_or_404(EvidenceExport, pk=export_id)
    if export.status != EvidenceExport.Status.DONE:
        raise Problem(409, f"evidence export #{export.pk} is {export.status}, not done", kind="not-ready")
    try:
        handle = open(export.file_path, "rb")  # noqa: SIM115 (FileResponse closes it)
    except OSError:
        raise Problem(404, "the package file is no longer on disk", kind="gone") from None
    # A download is recorded like the dashboard's (evidence.downloaded), naming the token.
    trail.record("evidence.downloaded", actor=token_actor(request.auth), target=export,
                 summary=f"evidence package #{export.pk} downloaded through the API",
                 details={"sha256": export.sha256, "via": "api", "token": request.auth.name})
    return FileResponse(handle, as_attachment=True, filename=export.filename, content_type="application/zip")
