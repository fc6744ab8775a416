"""Rebuild the dashboard's history from a tier's manifests: Database, BackupRun and Artifact rows.

Idempotent: a run is known by its backup UUID (written in every manifest), an artifact by (run, tier), so
importing twice adds nothing. Every new artifact is stream-hashed before it is recorded; one whose bytes no
longer match its manifest is recorded as a failed copy (never offered for verification or restore) and
flagged, as is a manifest whose artifact is missing. With `defer_hashing` the copy is recorded with its manifest's
SHA-256 and `hash_checked=False`, and the next verification hashes it (a mismatch then fails it as corrupt).

Hashing happens outside any transaction and each manifest is committed in its own short one: on SQLite one write
transaction for the whole import would block every other writer for hours, and an interrupted import resumes.
The tier is read a listing page (1,000 keys) at a time and each manifest is handled as it is found: memory stays
flat whatever the size of the bucket (bench: tests/test_catalog_import_at_scale.py imports 10,000 manifests).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

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
    """Counts of every outcome, and the items with something to say (flagged, archived): a clean import of
    100,000 manifests holds no list of them (each is handed to `on_item` as it is done)."""

    tier: str
    dry_run: bool
    counts: Counter = field(default_factory=Counter)
    items: list[ImportItem] = field(default_factory=list)
    hashing_deferred: int = 0

    def add(self, item: ImportItem) -> None:
        self.counts[item.outcome] += 1
        if item.reason:
            self.items.append(item)

    def count(self, outcome: str) -> int:
        return self.counts[outcome]

    def summary(self) -> dict[str, int]:
        return {IMPORTED: self.count(IMPORTED), KNOWN: self.count(KNOWN), FLAGGED: self.count(FLAGGED)}

    def as_json(self, limit: int | None = None) -> dict:
        """`limit`: at most that many items (the audit event's details), saying how many were left out."""
        items = self.items if limit is None else self.items[:limit]
        out = {"tier": self.tier, "dry_run": self.dry_run, **self.summary(),
               "hashing_deferred": self.hashing_deferred, "items": [asdict(item) for item in items]}
        if len(items) < len(self.items):
            out["items_left_out"] = len(self.items) - len(items)
        return out


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


def _run_for(manifest: catalog.Manifest, tier: Tier, known: BackupRun | None = None) -> tuple[BackupRun, bool]:
    """`known`: the run of that backup UUID when the caller has just looked it up (one query less a manifest)."""
    run = known or BackupRun.objects.filter(backup_uuid=manifest.backup_uuid).first()
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


def _import_one(storage: Storage, tier: Tier, manifest: catalog.Manifest, nearby: dict[str, ListedObject],
                manifest_location: str, dry_run: bool = False, defer_hashing: bool = False) -> ImportItem:
    """Hash first, outside any transaction (hours on a real bucket); then record in one short transaction.
    `nearby`: the listed objects around the manifest, where its artifact and globals file lie."""
    item = ImportItem(manifest=manifest.name, outcome=IMPORTED, database=manifest.database.name,
                      artifact=manifest.artifact_name)
    known = BackupRun.objects.filter(backup_uuid=manifest.backup_uuid).first()
    if known and known.artifacts.filter(tier=tier).exists():
        item.outcome, item.run_id = KNOWN, known.pk
        return item
    problems = []
    listed = nearby.get(manifest.artifact_name)
    expected = manifest.artifact.sha256
    if listed is not None and listed.needs_restore:
        return _import_archived(tier, manifest, nearby, listed, manifest_location, item, dry_run)
    if listed is None:
        problems.append("the manifest's artifact is missing from the tier")
    elif defer_hashing:  # the listing's size is free; the bytes are read by the next verification
        if manifest.artifact.size_bytes not in (None, listed.size_bytes):
            problems.append(f"size mismatch: {listed.size_bytes} bytes, the manifest says "
                            f"{manifest.artifact.size_bytes}")
    else:
        size, sha = stream_sha256(storage, listed.location)
        if sha != expected:
            problems.append(f"checksum mismatch: the artifact hashes to {sha}, its manifest says {expected}")
        elif manifest.artifact.size_bytes not in (None, size):
            problems.append(f"size mismatch: {size} bytes, the manifest says {manifest.artifact.size_bytes}")
    globals_listed = nearby.get(manifest.globals_name) if manifest.globals_name else None
    if manifest.globals_name and globals_listed is None:
        problems.append(f"globals file {manifest.globals_name} is missing")
    elif globals_listed is not None and not defer_hashing:
        _, globals_sha = stream_sha256(storage, globals_listed.location)
        if globals_sha != manifest.globals.sha256:
            problems.append("the globals file's checksum does not match its manifest")
            globals_listed = None
    artifact_broken = listed is None or any(p.startswith(("checksum", "size")) for p in problems)
    with transaction.atomic():
        run, _ = _run_for(manifest, tier, known)
        Artifact.objects.create(
            run=run, tier=tier, status=Artifact.Status.FAILED if artifact_broken else Artifact.Status.STORED,
            location=listed.location if listed else "", size_bytes=listed.size_bytes if listed else None,
            sha256=expected or "", globals_location=globals_listed.location if globals_listed else "",
            encryption_recipients=manifest.encryption_recipients, hash_checked=not defer_hashing,
            manifest_location=manifest_location, created_at=manifest.finished_at or timezone.now(),
            error=("flagged on import: " + "; ".join(problems)) if problems else "",
        )
        transaction.set_rollback(dry_run)
    item.run_id = run.pk
    if problems:
        item.outcome, item.reason = FLAGGED, "; ".join(problems)
    return item


def _import_archived(tier: Tier, manifest: catalog.Manifest, nearby: dict[str, ListedObject],
                     listed: ListedObject, manifest_location: str, item: ImportItem, dry_run: bool) -> ImportItem:
    """A copy in GLACIER / DEEP_ARCHIVE cannot be read, so not hashed: its run is history, the copy `archived`
    until `restore_archived` (or the button on its run's page) has it restored and checked."""
    globals_listed = nearby.get(manifest.globals_name) if manifest.globals_name else None
    with transaction.atomic():
        run, _ = _run_for(manifest, tier)
        Artifact.objects.create(
            run=run, tier=tier, status=Artifact.Status.ARCHIVED, location=listed.location,
            size_bytes=listed.size_bytes, sha256=manifest.artifact.sha256 or "",
            storage_class=listed.storage_class, globals_location=globals_listed.location if globals_listed else "",
            manifest_location=manifest_location, hash_checked=False,
            created_at=manifest.finished_at or timezone.now(),
        )
        transaction.set_rollback(dry_run)
    item.run_id = run.pk
    item.reason = f"archived in {listed.storage_class}: restore it (restore_archived) before it can be read"
    return item


LISTING_PAGE = 1000  # what one S3 ListObjectsV2 request returns


def _pages(objects: Iterable[ListedObject]) -> Iterator[list[ListedObject]]:
    it = iter(objects)
    while page := list(islice(it, LISTING_PAGE)):
        yield page


def listing_pages(storage: Storage, tier: Tier) -> Iterator[list[ListedObject]]:
    """The tier's objects a page at a time, then the monthly archive prefix (full keys) where the tier has one."""
    yield from _pages(storage.list_names())
    if tier.can(Feature.ARCHIVE_PREFIX) and tier.archive_prefix:
        yield from _pages(storage.list_archive())


def tier_listing(storage: Storage, tier: Tier) -> dict[str, ListedObject]:
    """Every object of the tier by name, at once (the catalog sweep compares whole listings)."""
    return {obj.name: obj for page in listing_pages(storage, tier) for obj in page}


def with_neighbours(pages: Iterable[list[ListedObject]]) -> Iterator[tuple[list[ListedObject],
                                                                          dict[str, ListedObject]]]:
    """Each page with the objects of it and of the pages before and after it, by name. A manifest's artifact and
    globals file share its stem, so the listing (in key order) puts them next to it: at most one page away."""
    before: list[ListedObject] = []
    current: list[ListedObject] | None = None
    for page in pages:
        if current is not None:
            yield current, {obj.name: obj for obj in (*before, *current, *page)}
            before = current
        current = page
    if current is not None:
        yield current, {obj.name: obj for obj in (*before, *current)}


def _already_imported(tier: Tier, listed: ListedObject) -> ImportItem | None:
    """A manifest a previous (perhaps interrupted) import recorded: skipped without reading it again."""
    known = Artifact.objects.filter(tier=tier, manifest_location=listed.location).values_list("run_id", flat=True)
    run_id = known.first()
    return ImportItem(manifest=listed.name, outcome=KNOWN, run_id=run_id) if run_id else None


def import_catalog(tier: Tier, *, dry_run: bool = False, user=None, defer_hashing: bool = False,
                   progress: Callable[[int, str], None] | None = None,
                   on_item: Callable[[ImportItem], None] | None = None) -> ImportReport:
    """Read every manifest in the tier and record what the dashboard does not know yet, one manifest at a time.
    `progress(done, manifest name)` is called after each manifest, `on_item(item)` with each outcome."""
    progress = progress or (lambda done, name: None)
    on_item = on_item or (lambda item: None)
    if not tier.can(Feature.ARTIFACTS):
        raise ConfigurationError(f"tier {tier.name} is an RDS view: it holds no Lifeboat manifests")
    storage = storage_for(tier)
    report = ImportReport(tier=tier.name, dry_run=dry_run)
    done = 0
    for page, nearby in with_neighbours(listing_pages(storage, tier)):
        for listed in page:
            if not listed.name.endswith(catalog.MANIFEST_SUFFIX):
                continue
            item = _import_listed(storage, tier, listed, nearby, dry_run, defer_hashing)
            if item is None:  # self-backup sidecars and foreign JSON
                continue
            report.add(item)
            if item.outcome == IMPORTED and defer_hashing and item.run_id:
                report.hashing_deferred += 1
            on_item(item)
            done += 1
            progress(done, listed.name)
    if not dry_run:
        trail.record("catalog.imported", actor=user, target=tier,
                     summary=f"catalog of tier {tier.name} imported: " + ", ".join(
                         f"{n} {k}" for k, n in report.summary().items())
                     + (f" (hashing deferred for {report.hashing_deferred})" if report.hashing_deferred else ""),
                     details=report.as_json(limit=100))
    return report


def _import_listed(storage: Storage, tier: Tier, listed: ListedObject, nearby: dict[str, ListedObject],
                   dry_run: bool, defer_hashing: bool) -> ImportItem | None:
    """One manifest, committed on its own: other writers wait at most one short transaction, and an interrupted
    import resumes where it stopped (what was committed is "known" the next time)."""
    known = _already_imported(tier, listed)
    if known:
        return known
    try:
        manifest = catalog.Manifest.parse(_read(storage, listed.location), listed.name)
    except LifeboatError as exc:
        if "not a Lifeboat backup manifest" in str(exc):
            return None
        return ImportItem(manifest=listed.name, outcome=FLAGGED, reason=str(exc))
    try:
        return _import_one(storage, tier, manifest, nearby, listed.location, dry_run, defer_hashing)
    except (LifeboatError, ValidationError, ValueError, KeyError, TypeError) as exc:
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return ImportItem(manifest=manifest.name, outcome=FLAGGED, reason=f"cannot import: {reason}")
