"""django-q2 entry points of the evidence app."""

from __future__ import annotations

from evidence.export import run_export
from evidence.models import EvidenceExport


def build_evidence_export(export_id: int) -> str:
    return run_export(EvidenceExport.objects.get(pk=export_id)).status
