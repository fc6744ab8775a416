"""A local directory as a storage tier: `<name>.partial`, fsync, rename; a reader never sees half a copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import BinaryIO

from backups.errors import StorageError
from backups.models import Tier
from backups.storage.interface import CHUNK, ListedObject, StoredCopy, atomic_file, sha256_of


class LocalStorage:
    """A directory on this machine (the plan's /backups)."""

    def __init__(self, tier: Tier) -> None:
        self.tier = tier
        self.root = tier.local_root

    def path_for(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"{name!r} would be written outside the tier's directory")
        return path

    def unique_path(self, stem: str, suffix: str) -> Path:
        """`stem+suffix`, or `stem_2+suffix`... when a run in the same second already used the name."""
        candidate = self.path_for(stem + suffix)
        n = 2
        while candidate.exists() or any(candidate.parent.glob(glob_escape(candidate.name) + "*.partial")):
            candidate = self.path_for(f"{stem}_{n}{suffix}")
            n += 1
        return candidate

    def put(self, source: Path, name: str, metadata: dict[str, str]) -> StoredCopy:
        final = self.path_for(name)
        if final == source.resolve():
            size, sha = sha256_of(final)
            return StoredCopy(location=str(final), size_bytes=size, sha256=sha)
        run_id = int(metadata.get("lifeboat-run-id", 0)) or None
        with open(source, "rb") as src, atomic_file(final, run_id) as out:
            shutil.copyfileobj(src, out, CHUNK)
        return StoredCopy(location=str(final), size_bytes=out.size, sha256=out.sha256)

    @contextmanager
    def open(self, location: str, version_id: str = "") -> Iterator[BinaryIO]:
        try:
            fh = open(location, "rb")
        except OSError as exc:
            raise StorageError(f"cannot read {location}: {exc.strerror}") from None
        with fh:
            yield fh

    def delete(self, location: str, version_id: str = "") -> None:
        Path(location).unlink(missing_ok=True)

    def list_names(self, suffix: str = "") -> Iterator[ListedObject]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob(f"*{suffix}")):
            if path.is_file() and not path.name.endswith(".partial"):
                yield ListedObject(str(path.relative_to(self.root)), str(path.resolve()), path.stat().st_size)
