"""django-q2 entry points of the audit app: thin wrappers around the chain check and the anchor."""

from __future__ import annotations

import logging

from audit import anchor, trail
from audit.chain import ChainReport, verify_chain
from audit.signals import audit_chain_broken, audit_chain_checked

log = logging.getLogger(__name__)


def check_audit_chain() -> ChainReport:
    """Verify the whole chain against the last anchor; anchor the head when intact, raise the alarm when not."""
    report = verify_chain(anchor.known_anchors())
    if report.intact:
        anchor.write_anchor(report)
        log.info(report.line())
    else:
        log.error(report.line())
        trail.record("audit.chain_broken", summary=report.problem[:300], details=report.as_dict())
        audit_chain_broken.send(sender=None, report=report)
    audit_chain_checked.send(sender=None, report=report)
    return report


def verify_audit_chain() -> bool:
    """The scheduled task (backups/schedules.py MAINTENANCE)."""
    return check_audit_chain().intact


def ship_audit_segments() -> dict:
    """The scheduled task (backups/schedules.py MAINTENANCE): close the past hour's events into a segment and put
    every segment an off-host tier lacks there (audit/segments.py)."""
    from audit.segments import ship_segments

    report = ship_segments()
    for error in report.errors:
        log.error("audit segments: %s", error)
    return report.as_dict()
