"""Self-describing backups: a sidecar manifest `<artifact name>.json` beside every artifact in every tier.

A tier's directory or bucket is then its own catalog: `import_catalog` rebuilds the dashboard's history from
the manifests alone (see catalog_import.py), so losing Lifeboat's database loses no knowledge of the backups.
The manifest never holds a secret: the connection target is user@host:port/dbname, the password only by the
name of the environment variable that holds it.

The manifest's shape is declared once, as the frozen dataclass `Manifest` (and the three small ones it holds):
writing and parsing both walk its fields, so a field added there is written and read back alike. A field without
a default is required in a manifest; times are ISO 8601 strings on disk.
"""

from __future__ import annotations

import json
import tempfile
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backups.errors import StorageError
from backups.models import BackupRun
from backups.storage.interface import Storage, StoredCopy, atomic_file

FORMAT_VERSION = 1
KIND_BACKUP = "lifeboat-backup"
KIND_SELF_BACKUP = "lifeboat-selfbackup"
MANIFEST_SUFFIX = ".json"


def manifest_name(artifact_name: str) -> str:
    return artifact_name + MANIFEST_SUFFIX


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the backup came from: user@host:port/dbname, the password only by its environment variable's name."""

    name: str
    host: str
    port: int
    user: str
    dbname: str
    dsn: str = ""
    libpq_options: str = ""  # sslmode, sslrootcert...: never a secret (see backups/conninfo.py)
    password_env: str = ""
    lifeboat_self: bool = False


@dataclass(frozen=True)
class ArtifactFacts:
    name: str  # relative to the manifest's own directory
    format: str = "custom"
    compression: str = "zstd"
    encryption_key_id: str | None = None
    raw_size_bytes: int | None = None
    size_bytes: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class GlobalsFile:
    name: str = ""
    sha256: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A backup manifest: everything needed to list, check and restore a backup without Lifeboat's database."""

    backup_uuid: str
    database: DatabaseTarget
    started_at: datetime
    artifact: ArtifactFacts
    format_version: int = FORMAT_VERSION
    kind: str = KIND_BACKUP
    run_id: int | None = None
    trigger: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    pg_dump_version: str | None = None
    server_version: str | None = None
    snapshot_id: str | None = None
    row_counts: dict[str, int] | None = None
    globals: GlobalsFile | None = None
    app_schema_version: str | None = None
    warnings: list[str] | None = None  # parts the run lacks ("succeeded with warnings"); absent in older manifests
    written_at: datetime | None = None
    name: str = field(default="", metadata={"on_disk": False})  # the manifest's own name in the tier

    @classmethod
    def for_run(cls, run: BackupRun, artifact_name: str, *, is_self: bool = False) -> Manifest:
        database = run.database
        return cls(
            backup_uuid=str(run.backup_uuid), run_id=run.pk, trigger=run.trigger,
            database=DatabaseTarget(
                name=database.name, host=database.host, port=database.port, user=database.user,
                dbname=database.dbname, dsn=database.dsn, libpq_options=database.libpq_options,
                password_env=database.password_env, lifeboat_self=is_self),
            created_at=run.created_at, started_at=run.started_at,
            # The artifact is complete when its manifest is written; the run's own end comes after every tier.
            finished_at=run.finished_at or timezone.now(),
            pg_dump_version=run.pg_dump_version, server_version=run.server_version, snapshot_id=run.snapshot_id,
            artifact=ArtifactFacts(name=artifact_name, raw_size_bytes=run.raw_size_bytes, size_bytes=run.size_bytes,
                                   sha256=run.sha256),
            row_counts=run.row_counts,
            globals=GlobalsFile(run.globals_name, run.globals_sha256) if run.globals_name else None,
            app_schema_version=run.app_schema_version or None,
            warnings=run.warnings,
            written_at=timezone.now(),
        )

    def as_json(self) -> dict[str, Any]:
        return _dump(self)

    @classmethod
    def parse(cls, raw: bytes, name: str) -> Manifest:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StorageError(f"{name} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != KIND_BACKUP:
            raise StorageError(f"{name} is not a Lifeboat backup manifest")
        if data.get("format_version") != FORMAT_VERSION:
            raise StorageError(f"{name} has manifest format {data.get('format_version')!r}; "
                               f"this Lifeboat reads format {FORMAT_VERSION}")
        return replace(_load(cls, data, name, ""), name=name)

    def _beside(self, file_name: str) -> str:
        """A file named in the manifest, relative to the tier (it lies beside the manifest)."""
        parent = str(Path(self.name).parent)
        return file_name if parent == "." else f"{parent}/{file_name}"

    @property
    def artifact_name(self) -> str:
        """The artifact's name relative to the tier."""
        return self._beside(self.artifact.name)

    @property
    def globals_name(self) -> str:
        return self._beside(self.globals.name) if self.globals and self.globals.name else ""


def _dump(shape: Any) -> dict[str, Any]:
    """A manifest dataclass as the JSON object written to disk."""
    out = {}
    for f in fields(shape):
        if not f.metadata.get("on_disk", True):
            continue
        value = getattr(shape, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif is_dataclass(value):
            value = _dump(value)
        out[f.name] = value
    return out


def _load(shape: type, data: Any, name: str, where: str) -> Any:
    """Read a JSON object into a manifest dataclass: required fields present, times parsed, nested shapes read."""
    if not isinstance(data, dict):
        raise StorageError(f"{name}: {where.rstrip('.') or 'the manifest'} is not a JSON object")
    hints = typing.get_type_hints(shape)
    values = {}
    for f in fields(shape):
        if not f.metadata.get("on_disk", True):
            continue
        value = data.get(f.name)
        kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        if value in (None, "", {}, []):
            if f.default is MISSING:
                raise StorageError(f"{name} lacks {where + f.name!r}")
            if value is None or kind is datetime or is_dataclass(kind):
                continue  # an empty time or part reads as not there
        elif kind is datetime:
            value = _time(value, name, where + f.name)
        elif is_dataclass(kind):
            value = _load(kind, value, name, f"{where}{f.name}.")
        values[f.name] = value
    return shape(**values)


def _time(value: Any, name: str, key: str) -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise StorageError(f"{name} has an unreadable {key!r}: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_manifest(run: BackupRun, artifact_name: str, *, is_self: bool = False) -> dict[str, Any]:
    """The JSON written beside the artifact (see `Manifest`)."""
    return Manifest.for_run(run, artifact_name, is_self=is_self).as_json()


def write_json(path: Path, payload: dict[str, Any], run_id: int | None = None) -> StoredCopy:
    """Write JSON to a local file atomically (`.partial`, fsync, rename); replaces an older file of that name."""
    body = json.dumps(payload, indent=2, sort_keys=True).encode() + b"\n"
    path.unlink(missing_ok=True)
    with atomic_file(path, run_id) as out:
        out.write(body)
    return StoredCopy(location=str(path), size_bytes=out.size, sha256=out.sha256)


def put_json(storage: Storage, name: str, payload: dict[str, Any], metadata: dict[str, str]) -> StoredCopy:
    """Store JSON in a tier through its own put (any backend), staged in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="lifeboat-manifest-") as tmp:
        staged = write_json(Path(tmp) / Path(name).name, payload)
        return storage.put(Path(staged.location), name, metadata)
