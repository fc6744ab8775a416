"""Copies in GLACIER / DEEP_ARCHIVE (imported as `archived`): request their restore from S3, and once S3 has
restored one, check its bytes against its manifest's SHA-256 and make it a live copy again.

S3 restores take hours (minutes with Expedited): run `restore_archived` again later; each pass requests what was
not requested yet and promotes what has been restored. A restored object stays readable for `days`.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit import trail
from backups.catalog.importer import stream_sha256
from backups.errors import LifeboatError
from backups.models import Artifact, Tier
from backups.storage import storage_for


@dataclass
class ColdCopy:
    artifact: int
    location: str
    state: str  # restore requested / in progress / readable / failed
    detail: str = ""


def restore_archived(tier: Tier, *, days: int = 7, actor=None) -> list[ColdCopy]:
    storage = storage_for(tier)
    found = []
    for artifact in Artifact.objects.filter(tier=tier, status=Artifact.Status.ARCHIVED).select_related("run"):
        try:
            found.append(_advance(storage, artifact, days, actor))
        except LifeboatError as exc:
            found.append(ColdCopy(artifact.pk, artifact.location, "failed", str(exc)))
    return found


def _advance(storage, artifact: Artifact, days: int, actor) -> ColdCopy:
    state = storage.restore_state(artifact.location, artifact.version_id)
    if state == "not requested":
        storage.request_restore(artifact.location, artifact.version_id, days)
        trail.record("catalog.restore_requested", actor=actor, target=artifact,
                     summary=f"restore of archived copy {artifact.location} requested for {days} days",
                     details={"location": artifact.location, "storage_class": artifact.storage_class, "days": days})
        return ColdCopy(artifact.pk, artifact.location, "restore requested")
    if state != "restored":
        return ColdCopy(artifact.pk, artifact.location, "in progress")
    return _promote(storage, artifact, actor)


def _promote(storage, artifact: Artifact, actor) -> ColdCopy:
    """Readable now: its bytes must still be the ones its manifest names before it counts as a copy."""
    size, sha = stream_sha256(storage, artifact.location)
    if sha != artifact.sha256:
        artifact.status = Artifact.Status.FAILED
        artifact.error = f"restored from {artifact.storage_class}, but hashes to {sha}, its manifest says " \
                         f"{artifact.sha256}"
        state = "failed"
    else:
        artifact.status, artifact.size_bytes = Artifact.Status.STORED, size
        state = "readable"
    artifact.save(update_fields=["status", "error", "size_bytes"])
    trail.record("catalog.restored", actor=actor, target=artifact,
                 summary=f"archived copy {artifact.location} restored: {state}",
                 details={"location": artifact.location, "sha256": sha, "state": state})
    return ColdCopy(artifact.pk, artifact.location, state, artifact.error)
