"""The canonical drill record: what a sign-off hashes (SHA-256), so any later edit of the record shows.

Sorted, compact JSON of everything the drill claims: targets set beforehand, who took part, each step, what the
restore measured, criteria and result, deviations and follow-ups. Notes are outside it (they are the corrections
added after signing), as are a follow-up's progress and the housekeeping drop of the restored database.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def canonical_record(drill) -> dict[str, Any]:
    restore = drill.restore
    return {
        "drill": drill.pk,
        "title": drill.title,
        "simulated": drill.simulated,
        "planned_at": _when(drill.planned_at),
        "scenario": {"name": drill.scenario.name, "runbook_version": drill.runbook_version},
        "database": {"name": drill.database.name, "dsn": drill.database.dsn},
        "checklist": drill.checklist.name,
        "targets": {"rto_minutes": drill.rto_target_minutes, "rpo_minutes": drill.rpo_target_minutes,
                    "max_recovery_minutes": drill.max_recovery_minutes,
                    "require_full_integrity": drill.require_full_integrity},
        "participants": sorted([p.user.get_username(), p.role] for p in drill.participants.all()),
        "steps": [{"position": s.position, "text": s.text, "status": s.status,
                   "ticked_by": s.ticked_by.get_username() if s.ticked_by else None,
                   "started_at": _when(s.started_at), "finished_at": _when(s.finished_at), "notes": s.notes}
                  for s in drill.steps.all()],
        "declared_at": _when(drill.started_at),
        "completed_at": _when(drill.completed_at),
        "completed_by": drill.completed_by.get_username() if drill.completed_by else None,
        "restore": None if restore is None else {
            "id": restore.pk, "run": restore.artifact.run_id, "artifact_sha256": restore.artifact.sha256,
            "tier": restore.artifact.tier.name, "target": restore.target_dsn, "status": restore.status,
            "started_at": _when(restore.started_at), "finished_at": _when(restore.finished_at),
            "error": restore.error,
        },
        "measured": {"restore_seconds": drill.restore_seconds, "recovery_seconds": drill.recovery_seconds,
                     "backup_age_seconds": drill.backup_age_seconds, "validated_at": _when(drill.validated_at),
                     "integrity": drill.integrity, "integrity_ok": drill.integrity_ok},
        "criteria": [{"name": c.name, "target": c.target, "measured": c.measured, "outcome": c.outcome}
                     for c in drill.criteria()],
        "result": drill.result(),
        "deviations": drill.deviations,
        "follow_ups": [{"finding": f.finding, "action": f.action, "owner": f.owner.get_username(),
                        "due_date": f.due_date.isoformat()} for f in drill.follow_ups.all()],
    }


def record_json(drill) -> str:
    return json.dumps(canonical_record(drill), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      cls=DjangoJSONEncoder)


def record_sha256(drill) -> str:
    return hashlib.sha256(record_json(drill).encode()).hexdigest()
