"""The catalog sweep: make a tier's manifests and the dashboard's copies agree again, and say what it repaired.

- a copy left `deleting` (a crash between the catalog change and storage) is deleted and its row closed;
- a manifest whose artifact is gone (an orphan) is removed, and a live copy whose object is gone is marked failed;
- a live copy whose manifest is gone gets its manifest written again from the run's record;
- a live copy the bucket's lifecycle moved to GLACIER / DEEP_ARCHIVE becomes `archived` (not readable until
  restore_archived; a dashboard restored from a self-backup still believed it was live).
A tier's own catalog is thereby never a source of phantom runs for `import_catalog`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.utils import timezone

from audit import trail
from backups.catalog import manifest as catalog
from backups.catalog.importer import tier_listing
from backups.errors import LifeboatError
from backups.models import Artifact, Feature, Tier
from backups.retention import applier
from backups.storage import storage_for
from backups.storage.interface import ListedObject

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    tier: str
    finished: list[int] = field(default_factory=list)  # `deleting` copies whose deletion the sweep completed
    orphan_manifests_removed: list[str] = field(default_factory=list)
    missing_copies: list[int] = field(default_factory=list)  # live rows whose object is gone: now failed
    manifests_rewritten: list[str] = field(default_factory=list)
    archived_copies: list[int] = field(default_factory=list)  # live rows the lifecycle made cold: now archived
    errors: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> int:
        return (len(self.finished) + len(self.orphan_manifests_removed) + len(self.missing_copies)
                + len(self.manifests_rewritten) + len(self.archived_copies))

    def as_json(self) -> dict:
        return asdict(self)


def sweep_tier(tier: Tier, *, actor=None) -> SweepReport:
    report = SweepReport(tier=tier.name)
    if not tier.can(Feature.ARTIFACTS):
        return report
    storage = storage_for(tier)
    finish_interrupted_deletions(storage, tier, report, actor)
    listing = {obj.location: obj for obj in tier_listing(storage, tier).values()}
    mark_missing_copies(tier, listing, report)
    mark_archived_copies(tier, listing, report)
    rewrite_lost_manifests(storage, tier, listing, report)
    remove_orphan_manifests(storage, tier, listing, report)
    if report.repaired or report.errors:
        trail.record("catalog.swept", actor=actor, target=tier,
                     summary=f"catalog sweep of tier {tier.name}: {report.repaired} repaired, "
                             f"{len(report.errors)} errors", details=report.as_json())
    return report


def finish_interrupted_deletions(storage, tier: Tier, report: SweepReport, actor) -> None:
    for artifact in Artifact.objects.filter(tier=tier, status=Artifact.Status.DELETING).select_related(
            "run__database", "tier"):
        try:
            applier.finish_deletion(storage, artifact, actor, timezone.now(), rule="sweep")
            report.finished.append(artifact.pk)
        except LifeboatError as exc:
            report.errors.append(f"copy {artifact.pk}: {exc}")


def _live_copies(tier: Tier):
    return Artifact.objects.live().filter(tier=tier).exclude(location="").select_related("run__database")


def mark_missing_copies(tier: Tier, listing: dict[str, ListedObject], report: SweepReport) -> None:
    for artifact in _live_copies(tier):
        if artifact.location not in listing:
            artifact.status = Artifact.Status.FAILED
            artifact.error = f"missing from the tier (found by the catalog sweep on {timezone.now():%Y-%m-%d})"
            artifact.save(update_fields=["status", "error"])
            report.missing_copies.append(artifact.pk)


def mark_archived_copies(tier: Tier, listing: dict[str, ListedObject], report: SweepReport) -> None:
    for artifact in _live_copies(tier):
        listed = listing.get(artifact.location)
        if listed is not None and listed.needs_restore:
            artifact.status, artifact.storage_class = Artifact.Status.ARCHIVED, listed.storage_class
            artifact.save(update_fields=["status", "storage_class"])
            report.archived_copies.append(artifact.pk)


def rewrite_lost_manifests(storage, tier: Tier, listing: dict[str, ListedObject], report: SweepReport) -> None:
    for artifact in _live_copies(tier):
        listed = listing.get(artifact.location)
        if listed is None or (artifact.manifest_location and artifact.manifest_location in listing):
            continue
        if not _in_listed_area(tier, artifact.location):  # put() writes under the tier's prefix only
            report.errors.append(f"copy {artifact.pk}: archived copy without its manifest (not rewritten)")
            continue
        name = catalog.manifest_name(listed.name)
        payload = catalog.build_manifest(artifact.run, Path(listed.name).name,
                                         is_self=artifact.run.database.is_lifeboat_self)
        try:
            stored = catalog.put_json(storage, name, payload, {"database": artifact.run.database.name})
        except LifeboatError as exc:
            report.errors.append(f"copy {artifact.pk}: manifest not written: {exc}")
            continue
        artifact.manifest_location = stored.location
        artifact.save(update_fields=["manifest_location"])
        listing[stored.location] = ListedObject(name, stored.location, stored.size_bytes)
        report.manifests_rewritten.append(stored.location)


def remove_orphan_manifests(storage, tier: Tier, listing: dict[str, ListedObject], report: SweepReport) -> None:
    names = {obj.name for obj in listing.values()}
    for obj in list(listing.values()):
        if not obj.name.endswith(catalog.MANIFEST_SUFFIX):
            continue
        if obj.name[: -len(catalog.MANIFEST_SUFFIX)] in names or not _is_lifeboat_manifest(storage, obj):
            continue
        try:
            storage.delete(obj.location)
        except LifeboatError as exc:
            report.errors.append(f"{obj.name}: {exc}")
            continue
        report.orphan_manifests_removed.append(obj.location)


def _is_lifeboat_manifest(storage, obj: ListedObject) -> bool:
    """Only our own sidecars are removed, never a foreign JSON file that happens to lie in the tier."""
    try:
        with storage.open(obj.location) as fh:
            data = json.loads(fh.read(1_000_000))
    except (LifeboatError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("kind") in (catalog.KIND_BACKUP, catalog.KIND_SELF_BACKUP)


def _in_listed_area(tier: Tier, location: str) -> bool:
    """A copy moved to the monthly archive lies outside the tier's own prefix."""
    return not (tier.archive_prefix and location.startswith(tier.archive_prefix))
