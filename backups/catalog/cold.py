"""Copies in GLACIER / DEEP_ARCHIVE (imported as `archived`): request their restore from S3, and once S3 has
restored one, check its bytes against its manifest's SHA-256 and make it a live copy again.

S3 restores take hours (minutes with Expedited). One path for all: `advance` requests what was not requested yet
and promotes what has been restored. `restore_archived` (the command) advances every archived copy of a tier; the
button on a run's page queues `advance` for one copy (backups.tasks.restore_archived_copy), and the
`lifeboat:cold-restores` schedule advances every copy whose restore was asked for until it is readable.
A restored object stays readable for `days`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from audit import trail
from backups.catalog.importer import stream_sha256
from backups.errors import LifeboatError
from backups.models import Artifact, Tier
from backups.storage import storage_for

REQUESTED, RESTORING = "requested", "restoring"  # Artifact.restore_state


@dataclass
class ColdCopy:
    artifact: int
    location: str
    state: str  # restore requested / in progress / readable / failed
    detail: str = ""


def restore_archived(tier: Tier, *, days: int = 7, actor=None) -> list[ColdCopy]:
    storage = storage_for(tier)
    return [_advance_safely(storage, artifact, days, actor)
            for artifact in Artifact.objects.filter(tier=tier, status=Artifact.Status.ARCHIVED).select_related("run")]


def mark_requested(artifact: Artifact) -> None:
    """Shown at once as "restore requested" while the worker asks S3."""
    artifact.restore_state, artifact.restore_requested_at = REQUESTED, timezone.now()
    artifact.save(update_fields=["restore_state", "restore_requested_at"])


def advance(artifact: Artifact, *, days: int = 7, actor=None) -> ColdCopy:
    """One archived copy one step further: restore requested, then (S3 done) checked and readable."""
    return _advance_safely(storage_for(artifact.tier), artifact, days, actor)


def advance_requested(days: int = 7) -> list[ColdCopy]:
    """Every archived copy whose restore was asked for (the schedule): readable as soon as S3 has restored it."""
    copies = (Artifact.objects.filter(status=Artifact.Status.ARCHIVED).exclude(restore_state="")
              .select_related("run", "tier"))
    return [advance(artifact, days=days) for artifact in copies]


def _advance_safely(storage, artifact: Artifact, days: int, actor) -> ColdCopy:
    try:
        return _advance(storage, artifact, days, actor)
    except LifeboatError as exc:
        return ColdCopy(artifact.pk, artifact.location, "failed", str(exc))


def _advance(storage, artifact: Artifact, days: int, actor) -> ColdCopy:
    state = storage.restore_state(artifact.location, artifact.version_id)
    if state == "not requested":  # checked on a later pass: S3 takes hours
        storage.request_restore(artifact.location, artifact.version_id, days)
        _set_restore_state(artifact, RESTORING)
        trail.record("catalog.restore_requested", actor=actor, target=artifact,
                     summary=f"restore of archived copy {artifact.location} requested for {days} days",
                     details={"location": artifact.location, "storage_class": artifact.storage_class, "days": days})
        return ColdCopy(artifact.pk, artifact.location, "restore requested")
    if state != "restored":
        _set_restore_state(artifact, RESTORING)
        return ColdCopy(artifact.pk, artifact.location, "in progress")
    return _promote(storage, artifact, actor)


def _set_restore_state(artifact: Artifact, state: str) -> None:
    artifact.restore_state = state
    artifact.restore_requested_at = artifact.restore_requested_at or timezone.now()
    artifact.save(update_fields=["restore_state", "restore_requested_at"])


def _promote(storage, artifact: Artifact, actor) -> ColdCopy:
    """Readable now: its bytes must still be the ones its manifest names before it counts as a copy."""
    size, sha = stream_sha256(storage, artifact.location)
    if sha != artifact.sha256:
        artifact.status = Artifact.Status.FAILED
        artifact.error = f"restored from {artifact.storage_class}, but hashes to {sha}, its manifest says " \
                         f"{artifact.sha256}"
        state = "failed"
    else:
        artifact.status, artifact.size_bytes, artifact.hash_checked = Artifact.Status.STORED, size, True
        state = "readable"
    artifact.restore_state = ""
    artifact.save(update_fields=["status", "error", "size_bytes", "hash_checked", "restore_state"])
    trail.record("catalog.restored", actor=actor, target=artifact,
                 summary=f"archived copy {artifact.location} restored: {state}",
                 details={"location": artifact.location, "sha256": sha, "state": state})
    return ColdCopy(artifact.pk, artifact.location, state, artifact.error)
