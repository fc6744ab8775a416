"""Rebuild the dashboard's history from a tier's manifests: Database, BackupRun and Artifact rows.

Idempotent: a run is known by its backup UUID (written in every manifest), an artifact by (run, tier), so
importing twice adds nothing. Every new artifact is stream-hashed before it is recorded; one whose bytes no
longer match its manifest is recorded as a failed copy (never offered for verification or restore) and
flagged, as is a manifest whose artifact is missing.

Hashing happens outside any transaction and each manifest is committed in its own short one: on SQLite one write
transaction for the whole import would block every other writer for hours, and an interrupted import resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit import trail
from backups.catalog import manifest as catalog
from backups.engine import pgtools
from backups.errors import ConfigurationError, LifeboatError
from backups.models import Artifact, BackupRun, Database, Feature, Tier
from backups.storage import storage_for
from backups.storage.interface import ListedObject, Storage, sha256_of

log = logging.getLogger(__name__)

IMPORTED, KNOWN, FLAGGED = "imported", "known", "flagged"


@dataclass
class ImportItem:
    manifest: str
    outcome: str  # imported / known / flagged
    database: str = ""
    run_id: int | None = None
    artifact: str = ""
    reason: str = ""


@dataclass
class ImportReport:
    tier: str
    dry_run: bool
    items: list[ImportItem] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    def summary(self) -> dict[str, int]:
        return {IMPORTED: self.count(IMPORTED), KNOWN: self.count(KNOWN), FLAGGED: self.count(FLAGGED)}

    def as_json(self) -> dict:
        return {"tier": self.tier, "dry_run": self.dry_run, **self.summary(),
                "items": [asdict(item) for item in self.items]}


def stream_sha256(storage: Storage, location: str) -> tuple[int, str]:
    with storage.open(location) as fh:
        return sha256_of(fh)


def _read(storage: Storage, location: str) -> bytes:
    with storage.open(location) as fh:
        return fh.read()


def _database_for(manifest: catalog.Manifest) -> Database:
    """The known database of that name, or a new one created disabled from the manifest's target."""
    info = manifest.database
    existing = Database.objects.filter(name=info.name).first()
    if existing:
        return existing
    pgtools.validate_dbname(info.dbname)
    database = Database(name=info.name, host=info.host, port=int(info.port), user=info.user,
                        dbname=info.dbname, libpq_options=info.libpq_options or "",
                        password_env=info.password_env or "", enabled=False)
    database.full_clean()
    database.save()
    return database


def _manifest_facts(manifest: catalog.Manifest) -> dict:
    artifact, globals_ = manifest.artifact, manifest.globals
    return dict(
        status=BackupRun.Status.SUCCEEDED, finished_at=manifest.finished_at,
        source_dsn=manifest.database.dsn,
        pg_dump_version=manifest.pg_dump_version or "", server_version=manifest.server_version or "",
        raw_size_bytes=artifact.raw_size_bytes, size_bytes=artifact.size_bytes,
        sha256=artifact.sha256 or "", row_counts=manifest.row_counts or {},
        snapshot_id=manifest.snapshot_id or "",
        globals_name=globals_.name if globals_ else "",
        globals_sha256=globals_.sha256 if globals_ else "",
        app_schema_version=manifest.app_schema_version or "", warnings=manifest.warnings or [], error="",
    )


def _run_for(manifest: catalog.Manifest, tier: Tier) -> tuple[BackupRun, bool]:
    run = BackupRun.objects.filter(backup_uuid=manifest.backup_uuid).first()
    if run and run.is_active:
        # A self-backup holds its own run as `running` (the snapshot was taken mid-run); its manifest, written
        # once the dump was complete, proves how it ended.
        for name, value in _manifest_facts(manifest).items():
            setattr(run, name, value)
        run.append_log(f"completed from manifest {manifest.name} in tier {tier.name}")
        run.save()
        return run, False
    if run:
        return run, False
    started = manifest.started_at
    run = BackupRun.objects.create(
        backup_uuid=manifest.backup_uuid, database=_database_for(manifest), trigger=BackupRun.Trigger.IMPORT,
        created_at=manifest.created_at or started, started_at=started, **_manifest_facts(manifest),
    )
    run.append_log(f"imported from tier {tier.name}, manifest {manifest.name} "
                   f"(originally run #{manifest.run_id}, trigger {manifest.trigger})")
    run.save(update_fields=["log"])
    return run, True


def _import_one(storage: Storage, tier: Tier, manifest: catalog.Manifest,
                listing: dict[str, ListedObject], dry_run: bool = False) -> ImportItem:
    """Hash first, outside any transaction (hours on a real bucket); then record in one short transaction."""
    item = ImportItem(manifest=manifest.name, outcome=IMPORTED, database=manifest.database.name,
                      artifact=manifest.artifact_name)
    known = BackupRun.objects.filter(backup_uuid=manifest.backup_uuid).first()
    if known and known.artifacts.filter(tier=tier).exists():
        item.outcome, item.run_id = KNOWN, known.pk
        return item
    problems = []
    listed = listing.get(manifest.artifact_name)
    expected = manifest.artifact.sha256
    if listed is not None and listed.needs_restore:
        return _import_archived(tier, manifest, listing, listed, item, dry_run)
    if listed is None:
        problems.append("the manifest's artifact is missing from the tier")
    else:
        size, sha = stream_sha256(storage, listed.location)
        if sha != expected:
            problems.append(f"checksum mismatch: the artifact hashes to {sha}, its manifest says {expected}")
        elif manifest.artifact.size_bytes not in (None, size):
            problems.append(f"size mismatch: {size} bytes, the manifest says {manifest.artifact.size_bytes}")
    globals_listed = listing.get(manifest.globals_name) if manifest.globals_name else None
    if manifest.globals_name and globals_listed is None:
        problems.append(f"globals file {manifest.globals_name} is missing")
    elif globals_listed is not None:
        _, globals_sha = stream_sha256(storage, globals_listed.location)
        if globals_sha != manifest.globals.sha256:
            problems.append("the globals file's checksum does not match its manifest")
            globals_listed = None
    artifact_broken = listed is None or any(p.startswith(("checksum", "size")) for p in problems)
    with transaction.atomic():
        run, _ = _run_for(manifest, tier)
        Artifact.objects.create(
            run=run, tier=tier, status=Artifact.Status.FAILED if artifact_broken else Artifact.Status.STORED,
            location=listed.location if listed else "", size_bytes=listed.size_bytes if listed else None,
            sha256=expected or "", globals_location=globals_listed.location if globals_listed else "",
            manifest_location=listing[manifest.name].location, created_at=manifest.finished_at or timezone.now(),
            error=("flagged on import: " + "; ".join(problems)) if problems else "",
        )
        transaction.set_rollback(dry_run)
    item.run_id = run.pk
    if problems:
        item.outcome, item.reason = FLAGGED, "; ".join(problems)
    return item


def _import_archived(tier: Tier, manifest: catalog.Manifest, listing: dict[str, ListedObject],
                     listed: ListedObject, item: ImportItem, dry_run: bool) -> ImportItem:
    """A copy in GLACIER / DEEP_ARCHIVE cannot be read, so not hashed: its run is history, the copy `archived`
    until `restore_archived` has it restored and checked."""
    globals_listed = listing.get(manifest.globals_name) if manifest.globals_name else None
    with transaction.atomic():
        run, _ = _run_for(manifest, tier)
        Artifact.objects.create(
            run=run, tier=tier, status=Artifact.Status.ARCHIVED, location=listed.location,
            size_bytes=listed.size_bytes, sha256=manifest.artifact.sha256 or "",
            storage_class=listed.storage_class, globals_location=globals_listed.location if globals_listed else "",
            manifest_location=listing[manifest.name].location,
            created_at=manifest.finished_at or timezone.now(),
        )
        transaction.set_rollback(dry_run)
    item.run_id = run.pk
    item.reason = f"archived in {listed.storage_class}: restore it (restore_archived) before it can be read"
    return item


def tier_listing(storage: Storage, tier: Tier) -> dict[str, ListedObject]:
    """Every object of the tier by name, with the monthly archive prefix (full keys) where the tier has one."""
    listing = {obj.name: obj for obj in storage.list_names()}
    if tier.can(Feature.ARCHIVE_PREFIX) and tier.archive_prefix:
        listing.update((obj.name, obj) for obj in storage.list_archive())
    return listing


def import_catalog(tier: Tier, *, dry_run: bool = False, user=None,
                   progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Read every manifest in the tier and record what the dashboard does not know yet.
    `progress(done, total, manifest name)` is called after each manifest."""
    progress = progress or (lambda done, total, name: None)
    if not tier.can(Feature.ARTIFACTS):
        raise ConfigurationError(f"tier {tier.name} is an RDS view: it holds no Lifeboat manifests")
    storage = storage_for(tier)
    listing = tier_listing(storage, tier)
    report = ImportReport(tier=tier.name, dry_run=dry_run)
    manifests: list[catalog.Manifest] = []
    for name in sorted(n for n in listing if n.endswith(catalog.MANIFEST_SUFFIX)):
        try:
            manifests.append(catalog.Manifest.parse(_read(storage, listing[name].location), name))
        except LifeboatError as exc:
            if "not a Lifeboat backup manifest" not in str(exc):  # self-backup sidecars and foreign JSON
                report.items.append(ImportItem(manifest=name, outcome=FLAGGED, reason=str(exc)))
    manifests.sort(key=lambda m: (m.started_at, m.name))
    # One manifest at a time, each committed on its own: other writers wait at most one short transaction, and
    # an interrupted import resumes where it stopped (what was committed is "known" the next time).
    for done, manifest in enumerate(manifests, start=1):
        try:
            report.items.append(_import_one(storage, tier, manifest, listing, dry_run))
        except (LifeboatError, ValidationError, ValueError, KeyError, TypeError) as exc:
            reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            report.items.append(ImportItem(manifest=manifest.name, outcome=FLAGGED,
                                           reason=f"cannot import: {reason}"))
        progress(done, len(manifests), manifest.name)
    if not dry_run:
        trail.record("catalog.imported", actor=user, target=tier,
                     summary=f"catalog of tier {tier.name} imported: " + ", ".join(
                         f"{n} {k}" for k, n in report.summary().items()),
                     details=report.as_json())
    return report
