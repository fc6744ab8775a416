"""The canonical drill record: what a sign-off hashes (SHA-256), so any later edit of the record shows.

Sorted, compact JSON of everything the drill claims: targets set beforehand, who took part, each step, what the
restore measured, criteria and result, deviations and follow-ups. Notes are outside it (they are the corrections
added after signing), as are a follow-up's progress and the housekeeping drop of the restored database.

The configuration the drill was run against (scenario, database, checklist, targets, participants) is taken as a
snapshot at sign-off and stored on the SignOff: a signed record is re-hashed with that snapshot, so renaming the
scenario or moving the database later does not make it "changed", while any edit of the drill's own record does.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


SNAPSHOT_KEYS = ("scenario", "database", "checklist", "targets", "participants")


def configuration_snapshot(drill) -> dict[str, Any]:
    """The configuration parts of the record as they are now (what a sign-off freezes)."""
    record = canonical_record(drill)
    return {key: record[key] for key in SNAPSHOT_KEYS}


def canonical_record(drill, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record; with `snapshot` (a sign-off's), its configuration parts as they were when signed."""
    record = _live_record(drill)
    if snapshot:
        record.update({key: snapshot[key] for key in SNAPSHOT_KEYS if key in snapshot})
    return record


def _live_record(drill) -> dict[str, Any]:
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


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def record_json(drill, snapshot: dict[str, Any] | None = None) -> str:
    return _dumps(canonical_record(drill, snapshot))


def snapshot_json(drill) -> str:
    return _dumps(configuration_snapshot(drill))


def record_sha256(drill, snapshot: dict[str, Any] | None = None) -> str:
    return hashlib.sha256(record_json(drill, snapshot).encode()).hexdigest()


def signed_snapshot(signoff) -> dict[str, Any] | None:
    """The configuration frozen at sign-off (None for a sign-off older than snapshots and not migrated)."""
    return json.loads(signoff.snapshot_json) if signoff.snapshot_json else None


def signed_record_sha256(signoff) -> str:
    """The drill's record as stored now, with the configuration as signed: equal to record_sha256 if unchanged."""
    return record_sha256(signoff.drill, signed_snapshot(signoff))
