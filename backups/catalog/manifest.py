"""Self-describing backups: a sidecar manifest `<artifact name>.json` beside every artifact in every tier.

A tier's directory or bucket is then its own catalog: `import_catalog` rebuilds the dashboard's history from
the manifests alone (see catalog_import.py), so losing Lifeboat's database loses no knowledge of the backups.
The manifest never holds a secret: the connection target is user@host:port/dbname, the password only by the
name of the environment variable that holds it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def build_manifest(run: BackupRun, artifact_name: str, *, is_self: bool = False) -> dict[str, Any]:
    """Everything needed to list, check and restore this backup without Lifeboat's database."""
    database = run.database
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND_BACKUP,
        "backup_uuid": str(run.backup_uuid),
        "run_id": run.pk,
        "database": {
            "name": database.name, "host": database.host, "port": database.port, "user": database.user,
            "dbname": database.dbname, "dsn": database.dsn, "libpq_options": database.libpq_options,
            "password_env": database.password_env,
            "lifeboat_self": is_self,
        },
        "trigger": run.trigger,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        # The artifact is complete when its manifest is written; the run's own end comes after every tier.
        "finished_at": _iso(run.finished_at or timezone.now()),
        "pg_dump_version": run.pg_dump_version,
        "server_version": run.server_version,
        "snapshot_id": run.snapshot_id,
        "artifact": {
            "name": artifact_name, "format": "custom", "compression": "zstd", "encryption_key_id": None,
            "raw_size_bytes": run.raw_size_bytes, "size_bytes": run.size_bytes, "sha256": run.sha256,
        },
        "row_counts": run.row_counts,
        "globals": {"name": run.globals_name, "sha256": run.globals_sha256} if run.globals_name else None,
        "app_schema_version": run.app_schema_version or None,
        "warnings": run.warnings,  # parts the run lacks ("succeeded with warnings"); absent in older manifests
        "written_at": timezone.now().isoformat(),
    }


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


@dataclass(frozen=True)
class Manifest:
    """A parsed, checked backup manifest."""

    data: dict[str, Any]
    name: str  # the manifest's own name in the tier

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
        for key in ("backup_uuid", "database", "started_at", "artifact"):
            if not data.get(key):
                raise StorageError(f"{name} lacks {key!r}")
        return cls(data, name)

    @property
    def backup_uuid(self) -> str:
        return self.data["backup_uuid"]

    @property
    def database(self) -> dict[str, Any]:
        return self.data["database"]

    @property
    def artifact(self) -> dict[str, Any]:
        return self.data["artifact"]

    @property
    def artifact_name(self) -> str:
        """The artifact's name relative to the tier (the manifest lies beside it)."""
        parent = str(Path(self.name).parent)
        return self.artifact["name"] if parent == "." else f"{parent}/{self.artifact['name']}"

    @property
    def globals_name(self) -> str:
        globals_ = self.data.get("globals") or {}
        if not globals_.get("name"):
            return ""
        parent = str(Path(self.name).parent)
        return globals_["name"] if parent == "." else f"{parent}/{globals_['name']}"

    def time(self, key: str) -> datetime | None:
        value = self.data.get(key)
        return parse_datetime(value) if value else None
