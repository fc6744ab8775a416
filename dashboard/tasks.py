"""django-q2 entry points of the dashboard app: thin wrappers around audit_chain/anchor and evidence."""

from __future__ import annotations

import logging

from dashboard import anchor, audit
from dashboard.audit_chain import ChainReport, verify_chain
from dashboard.signals import audit_chain_broken, audit_chain_checked

log = logging.getLogger(__name__)


def check_audit_chain() -> ChainReport:
    """Verify the whole chain against the last anchor; anchor the head when intact, raise the alarm when not."""
    report = verify_chain(anchor.last_anchor())
    if report.intact:
        anchor.write_anchor(report)
        log.info(report.line())
    else:
        log.error(report.line())
        audit.record("audit.chain_broken", summary=report.problem[:300], details=report.as_dict())
        audit_chain_broken.send(sender=None, report=report)
    audit_chain_checked.send(sender=None, report=report)
    return report


def verify_audit_chain() -> bool:
    """The scheduled task (backups/schedules.py MAINTENANCE)."""
    return check_audit_chain().intact


def build_evidence_export(export_id: int) -> str:
    from dashboard.evidence.export import run_export
    from dashboard.models import EvidenceExport

    return run_export(EvidenceExport.objects.get(pk=export_id)).status
