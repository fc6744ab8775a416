"""django-q2 entry points of the evidence app."""

from __future__ import annotations

from audit import trail
from evidence.export import run_export
from evidence.models import EvidenceExport


def build_evidence_export(export_id: int) -> str:
    export = EvidenceExport.objects.select_related("requested_by").get(pk=export_id)
    with trail.acting_as(export.requested_by):  # the auditor who asked is the actor of what the export records
        return run_export(export).status
