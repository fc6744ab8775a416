"""Lifeboat backs itself up, so losing the dashboard loses neither its configuration nor its audit trail.

- On PostgreSQL the dashboard's own database is registered as a protected Database (after migrate and by
  sync_schedules): it is dumped, copied, verified and catalogued like any other. Its password is never stored:
  the Database names an environment variable (LIFEBOAT_SELF_PASSWORD_ENV), which settings.py fills in this
  process's environment from DATABASE_URL when the URL carries one.
- On SQLite a consistent copy (SQLite's online backup API) is compressed with zstd and stored, with its own
  sidecar manifest, in every enabled local and S3 tier after the first scheduled backup run of a UTC day and
  before each migration: `lifeboat_selfbackup_<YYYYmmdd_HHMMSS>[_before_migrate].sqlite3.zst` (+ `.json`).
  Copies younger than LIFEBOAT_SELF_BACKUP_KEEP_DAYS are kept, and at least the newest LIFEBOAT_SELF_BACKUP_KEEP.
  restore_selfbackup brings one back.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import zstandard
from django.conf import settings
from django.db import connections
from django.utils import timezone

from audit import trail
from backups.catalog import manifest as catalog
from backups.catalog import own_database
from backups.catalog.own_database import is_postgresql, is_sqlite
from backups.errors import ConfigurationError, RestoreFailed, StorageError
from backups.models import Database, Feature, Tier
from backups.storage import storage_for
from backups.storage.interface import CHUNK, HashingReader, Storage, StoredCopy, atomic_file

log = logging.getLogger(__name__)

SELF_PREFIX = "lifeboat_selfbackup_"
SELF_SUFFIX = ".sqlite3.zst"
# --- PostgreSQL: the dashboard's database is a protected database ------------------------------------------


def register_self_database(db_settings: dict[str, Any] | None = None) -> Database | None:
    """Protect the dashboard's own PostgreSQL database (idempotent). None when off or not PostgreSQL."""
    own = db_settings or own_database.own_settings()
    if not settings.LIFEBOAT_SELF_BACKUP or not is_postgresql(own):
        return None
    host, port, dbname = own.get("HOST") or "127.0.0.1", int(own.get("PORT") or 5432), own["NAME"]
    for database in Database.objects.filter(dbname=dbname, port=port):
        if own_database.same_host(database.host, host):
            return database
    name = settings.LIFEBOAT_SELF_NAME
    if Database.objects.filter(name=name).exists():
        name = f"{name}-self"
    database = Database(
        name=name, host=host, port=port, dbname=dbname, user=own.get("USER") or "postgres",
        # Only the variable's name is stored; the password stays in the environment.
        password_env=settings.LIFEBOAT_SELF_PASSWORD_ENV if own.get("PASSWORD") else "",
    )
    database.full_clean()
    database.save()
    trail.record("config.database.created", target=database,
                 summary=f"Lifeboat's own database protected as {database.name}",
                 details={"dsn": database.dsn, "password_env": database.password_env, "self_backup": True})
    return database


# --- SQLite: a consistent copy after each scheduled run -----------------------------------------------------


@dataclass
class SelfBackup:
    name: str
    raw_size: int
    stored: StoredCopy
    manifest: dict[str, Any]


BEFORE_MIGRATE = "_before_migrate"


def self_backup_name(now: datetime, tag: str = "") -> str:
    return f"{SELF_PREFIX}{now:%Y%m%d_%H%M%S}{tag}{SELF_SUFFIX}"


def taken_at(name: str) -> datetime | None:
    """The time in a self-backup's name (UTC), None for a name that is not one."""
    stamp = Path(name).name[len(SELF_PREFIX):len(SELF_PREFIX) + 15]
    try:
        return datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _newest_migration(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT app || '.' || name FROM django_migrations ORDER BY applied DESC, id DESC LIMIT 1"
                     ).fetchone()
    return f"django_migrations: {row[0]}" if row else ""


def make_sqlite_copy(directory: Path, now: datetime, tag: str = "") -> SelfBackup:
    """SQLite's backup API copies the live database in one step (a consistent snapshot even while the web
    server and the qcluster write), then the copy is checked and compressed with zstd."""
    name_or_uri = str(own_database.own_settings()["NAME"])
    # A connection of its own, read-only: Django's may be inside a transaction (the copy would wait on itself).
    source = (sqlite3.connect(name_or_uri, uri=True) if name_or_uri.startswith("file:")
              else sqlite3.connect(f"file:{Path(name_or_uri).resolve()}?mode=ro", uri=True, timeout=20))
    raw_copy = directory / "copy.sqlite3"
    target = sqlite3.connect(raw_copy)
    try:
        source.backup(target)
        if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise StorageError("the SQLite copy failed its integrity check")
        schema_version = _newest_migration(target)
        counts = {table: target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608 (fixed names)
                  for table in ("backups_backuprun", "backups_database", "dashboard_auditevent", "auth_user")}
    finally:
        source.close()
        target.close()
    name = self_backup_name(now, tag)
    compressor = zstandard.ZstdCompressor(level=settings.LIFEBOAT_ZSTD_LEVEL, write_checksum=True)
    with open(raw_copy, "rb") as src, atomic_file(directory / name) as out:
        compressor.copy_stream(src, out, read_size=CHUNK)
    stored = StoredCopy(location=str(directory / name), size_bytes=out.size, sha256=out.sha256)
    raw_size = raw_copy.stat().st_size
    raw_copy.unlink()
    manifest = {
        "format_version": catalog.FORMAT_VERSION, "kind": catalog.KIND_SELF_BACKUP, "name": name,
        "created_at": now.isoformat(), "engine": "sqlite3", "compression": "zstd", "encryption_key_id": None,
        "raw_size_bytes": raw_size, "size_bytes": stored.size_bytes, "sha256": stored.sha256,
        "app_schema_version": schema_version or None, "row_counts": counts,
    }
    return SelfBackup(name, raw_size, stored, manifest)


def self_backup_tiers() -> list[Tier]:
    return list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))


def _self_copies(storage: Storage) -> list:
    """The tier's SQLite self-backups, oldest first (names sort by time)."""
    return sorted((obj for obj in storage.list_names(SELF_SUFFIX) if Path(obj.name).name.startswith(SELF_PREFIX)),
                  key=lambda obj: Path(obj.name).name)


def prune(storage: Storage, keep_days: int, keep_at_least: int, now: datetime) -> list[str]:
    """Delete self-backups older than `keep_days` (and their sidecars), never the newest `keep_at_least`."""
    copies = _self_copies(storage)
    sidecars = {obj.name: obj for obj in storage.list_names(SELF_SUFFIX + catalog.MANIFEST_SUFFIX)}
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for obj in copies[: max(len(copies) - keep_at_least, 0)]:
        when = taken_at(obj.name)
        if when is None or when > cutoff:  # younger than keep_days
            continue
        storage.delete(obj.location)
        sidecar = sidecars.get(catalog.manifest_name(obj.name))
        if sidecar:
            storage.delete(sidecar.location)
        removed.append(obj.name)
    return removed


def has_copy_of_day(storage: Storage, now: datetime) -> bool:
    days = {when.date() for when in map(taken_at, (obj.name for obj in _self_copies(storage))) if when}
    return now.date() in days


def daily_self_backup(now: datetime | None = None) -> dict[str, Any]:
    """After a scheduled run: at most one copy a UTC day (many databases backed up in one night make one)."""
    now = now or timezone.now()
    tiers = self_backup_tiers()
    if tiers and all(has_copy_of_day(storage_for(tier), now) for tier in tiers):
        return {"name": "", "skipped": f"every tier already holds a self-backup of {now:%Y-%m-%d}", "tiers": {}}
    return sqlite_self_backup(now)


def self_backup_before_migration(sender=None, plan=None, **kwargs) -> None:
    """pre_migrate: a copy before migrations change the schema, into LIFEBOAT_BACKUP_ROOT (the default local
    tier's directory). No model is read and no event recorded: the code is already new, the schema still old.
    Never on an empty plan or a fresh database; never blocking the migration (a failure is logged)."""
    if not plan or all(backwards for _, backwards in plan) or not settings.LIFEBOAT_SELF_BACKUP:
        return
    if not is_sqlite() or "django_migrations" not in connections["default"].introspection.table_names():
        return
    try:
        root = Path(settings.LIFEBOAT_BACKUP_ROOT)
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".lifeboat-selfbackup-", dir=root) as tmp:
            copy = make_sqlite_copy(Path(tmp), timezone.now(), BEFORE_MIGRATE)
            os.replace(copy.stored.location, root / copy.name)  # the same filesystem: the name appears whole
        catalog.write_json(root / catalog.manifest_name(copy.name), copy.manifest | {"reason": "before migration"})
        log.info("self-backup before migration: %s", root / copy.name)
    except Exception:  # the migration itself matters more than the copy before it
        log.exception("self-backup before migration failed")


def sqlite_self_backup(now: datetime | None = None, *, tag: str = "", reason: str = "") -> dict[str, Any]:
    """Copy the dashboard's SQLite database into every enabled local and S3 tier. Returns what happened."""
    if not is_sqlite():
        raise ConfigurationError("the SQLite self-backup needs a SQLite dashboard database "
                                 "(on PostgreSQL the database is protected like any other)")
    now = now or timezone.now()
    result: dict[str, Any] = {"name": "", "tiers": {}}
    with tempfile.TemporaryDirectory(prefix="lifeboat-selfbackup-") as tmp:
        copy = make_sqlite_copy(Path(tmp), now, tag)
        result.update(name=copy.name, sha256=copy.stored.sha256, size_bytes=copy.stored.size_bytes)
        for tier in self_backup_tiers():
            storage = storage_for(tier)
            try:
                stored = storage.put(Path(copy.stored.location), copy.name, {"sha256": copy.stored.sha256})
                if stored.sha256 != copy.stored.sha256:
                    raise StorageError(f"{tier} holds a copy whose SHA-256 differs")
                catalog.put_json(storage, catalog.manifest_name(copy.name), copy.manifest, {"kind": "self-backup"})
                pruned = prune(storage, settings.LIFEBOAT_SELF_BACKUP_KEEP_DAYS, settings.LIFEBOAT_SELF_BACKUP_KEEP,
                               now)
                result["tiers"][tier.name] = {"location": stored.location, "pruned": pruned}
            except Exception as exc:  # one tier failing never stops the others
                log.exception("self-backup to tier %s failed", tier)
                result["tiers"][tier.name] = {"error": str(exc) or repr(exc)}
    if reason:
        result["reason"] = reason
    ok = any("location" in t for t in result["tiers"].values())
    trail.record("selfbackup." + ("succeeded" if ok else "failed"),
                 summary=f"Lifeboat's own database copied as {copy.name}" if ok
                 else "Lifeboat's own database could not be copied to any tier", details=result)
    return result


# --- bringing it back ---------------------------------------------------------------------------------------


def newest_self_backup(storage: Storage, name: str = "") -> tuple[str, str, dict[str, Any]]:
    """(location, name, sidecar) of the newest (or the named) SQLite self-backup in a tier."""
    found = {obj.name: obj for obj in storage.list_names() if Path(obj.name).name.startswith(SELF_PREFIX)}
    candidates = sorted(n for n in found if n.endswith(SELF_SUFFIX))
    if name:
        candidates = [n for n in candidates if Path(n).name == name]
    if not candidates:
        raise ConfigurationError("no Lifeboat self-backup " + (f"named {name} " if name else "") + "in this tier")
    chosen = candidates[-1]
    sidecar = found.get(catalog.manifest_name(chosen))
    if sidecar is None:
        raise RestoreFailed(f"{chosen} has no sidecar manifest: its checksum cannot be checked")
    with storage.open(sidecar.location) as fh:
        import json

        manifest = json.loads(fh.read())
    return found[chosen].location, chosen, manifest


def restore_sqlite(storage: Storage, name: str = "", *, force: bool = False) -> dict[str, Any]:
    """Replace the dashboard's SQLite file with a self-backup, after checking its checksum and integrity.

    Refuses a dashboard that already holds users or backup runs unless `force`. The old WAL/SHM files are
    removed with the old database: left beside the new file, SQLite would replay them into it.
    """
    if not is_sqlite():
        raise ConfigurationError("the dashboard database is not SQLite; restore the PostgreSQL self-backup with "
                                 "`restore RUN_ID --target-db NAME` or the README's stock-tool commands")
    location, chosen, manifest = newest_self_backup(storage, name)
    db_path = Path(own_database.own_settings()["NAME"])
    if not force and db_path.exists() and _holds_data(db_path):
        raise ConfigurationError(f"{db_path} already holds users or backup runs; use --force to replace it")
    incoming = db_path.with_name(db_path.name + ".restoring")
    with storage.open(location) as raw, open(incoming, "wb") as out:
        hashing = HashingReader(raw)
        zstandard.ZstdDecompressor().copy_stream(hashing, out, read_size=CHUNK)
        out.flush()
        os.fsync(out.fileno())
    try:
        if hashing.sha256 != manifest.get("sha256"):
            raise RestoreFailed(f"checksum mismatch: {chosen} hashes to {hashing.sha256}, "
                                f"its manifest says {manifest.get('sha256')}")
        check = sqlite3.connect(incoming)
        try:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise RestoreFailed(f"{chosen} is not a sound SQLite database")
        finally:
            check.close()
        connections.close_all()
        for stale in (db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
            stale.unlink(missing_ok=True)
        os.replace(incoming, db_path)
    finally:
        incoming.unlink(missing_ok=True)
    return {"name": chosen, "sha256": manifest.get("sha256"), "database": str(db_path),
            "created_at": manifest.get("created_at"), "app_schema_version": manifest.get("app_schema_version")}


def newest_self_manifest(storage: Storage) -> catalog.Manifest:
    """The newest backup manifest of the dashboard's own PostgreSQL database in a tier."""
    found = []
    for obj in storage.list_names(catalog.MANIFEST_SUFFIX):
        with storage.open(obj.location) as fh:
            raw = fh.read()
        try:
            manifest = catalog.Manifest.parse(raw, obj.name)
        except StorageError:
            continue
        if manifest.database.lifeboat_self:
            found.append(manifest)
    if not found:
        raise ConfigurationError("no backup of Lifeboat's own PostgreSQL database in this tier")
    return max(found, key=lambda m: m.started_at)


def restore_postgresql(storage: Storage, *, force: bool = False) -> dict[str, Any]:
    """pg_restore the newest self-backup into the dashboard's (empty) PostgreSQL database.

    Refuses a database with tables in its public schema unless `force`, which drops and recreates that schema.
    """
    from backups.conninfo import ConnectionOptions
    from backups.models import Artifact
    from backups.recovery.restore import pg_restore_argv, stream_artifact

    manifest = newest_self_manifest(storage)
    listed = {obj.name: obj for obj in storage.list_names(manifest.artifact.name)}
    if manifest.artifact_name not in listed:
        raise RestoreFailed(f"{manifest.artifact_name} (named by {manifest.name}) is missing from the tier")
    own = own_database.own_settings()
    target = ConnectionOptions(own.get("HOST") or "127.0.0.1", int(own.get("PORT") or 5432),
                               own.get("USER") or "postgres", own["NAME"], password=own.get("PASSWORD") or "")
    connections.close_all()
    with target.connect() as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        if tables and not force:
            raise ConfigurationError(f"{target.dsn} already has {tables} tables; restore into an empty database "
                                     "(or use --force to drop its public schema first)")
        if tables:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    copy = Artifact(tier=storage.tier, location=listed[manifest.artifact_name].location,
                    sha256=manifest.artifact.sha256)
    stream_artifact(copy, pg_restore_argv(target, no_owner=True), target.env())
    return {"name": manifest.artifact.name, "sha256": manifest.artifact.sha256, "database": target.dsn,
            "created_at": manifest.started_at.isoformat(),
            "app_schema_version": manifest.app_schema_version}


def _holds_data(db_path: Path) -> bool:
    db = sqlite3.connect(db_path)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return any(table in tables and db.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()  # noqa: S608
                   for table in ("auth_user", "backups_backuprun"))
    finally:
        db.close()
