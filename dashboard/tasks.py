"""Task paths of earlier releases, kept so that tasks already waiting in django-q's queue when Lifeboat is
upgraded still run (schedules were re-pointed by the audit app's first migration; queued tasks keep the path
they were queued with). The shell may import every layer below it."""

from __future__ import annotations

from audit.tasks import verify_audit_chain  # noqa: F401  (was dashboard.tasks.verify_audit_chain)
from evidence.tasks import build_evidence_export  # noqa: F401  (was dashboard.tasks.build_evidence_export)
