"""Storage tiers: one small interface (interface.py), one class per backend (local.py, s3.py), and the factory
that picks the backend for a tier. A cloud backend is imported only when a tier uses it."""

from __future__ import annotations

from backups.errors import StorageError
from backups.models import Artifact, Tier
from backups.storage.interface import Storage


def storage_for(tier: Tier) -> Storage:
    if tier.kind == Tier.Kind.LOCAL:
        from backups.storage.local import LocalStorage

        return LocalStorage(tier)
    if tier.kind == Tier.Kind.S3:
        from backups.storage.s3 import S3Storage

        return S3Storage(tier)
    raise StorageError(f"tier {tier} ({tier.get_kind_display()}) does not store Lifeboat's artifacts")


def open_artifact(artifact: Artifact):
    """A context manager yielding the artifact's bytes as a stream, whichever tier holds it."""
    return storage_for(artifact.tier).open(artifact.location, artifact.version_id)
