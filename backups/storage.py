"""Storage tiers behind one small interface: put a finished artifact, open it for reading, delete it.

Every backend writes so that a reader never sees a half-written copy: LocalStorage writes to `<name>.partial`,
fsyncs and renames; S3Storage uses a multipart upload that is aborted on any failure.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import BinaryIO, Protocol

from backups.errors import StorageError
from backups.models import Artifact, Tier

CHUNK = 1024 * 1024


@dataclass
class StoredCopy:
    """What a backend reports after storing a file; becomes an Artifact's fields."""

    location: str
    size_bytes: int
    sha256: str
    version_id: str = ""
    etag: str = ""
    storage_class: str = ""
    extra: dict = field(default_factory=dict)


class HashingWriter:
    """A write-only file wrapper that counts and hashes what passes through it."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        self.size += len(data)
        self._fh.write(data)
        return len(data)

    def flush(self) -> None:
        self._fh.flush()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PARTIAL_OWNER = re.compile(r"\.run-(?P<run>\d+)\.partial$")


def partial_path(final: Path, run_id: int | None = None) -> Path:
    """`<final>.run-<id>.partial` for a backup run's files (the sweep asks the run whether it is still going),
    `<final>.partial` for others."""
    return final.with_name(f"{final.name}.run-{run_id}.partial" if run_id else f"{final.name}.partial")


@contextmanager
def atomic_file(final: Path, run_id: int | None = None) -> Iterator[HashingWriter]:
    """Write to `<final>.partial`; on success fsync and rename, on any failure remove the partial file.

    A partial file left by a killed worker is removed by the `lifeboat:sweep-partials` task (backups/leftovers.py).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(final, run_id)
    fh = open(partial, "xb")
    renamed = False
    try:
        writer = HashingWriter(fh)
        yield writer
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(partial, final)
        renamed = True
        fsync_dir(final.parent)
    except BaseException:
        if renamed:  # written but not durably: not a copy anyone may count on
            final.unlink(missing_ok=True)
        raise
    finally:
        # On a full disk closing flushes the buffer and raises ENOSPC again: the unlink must not depend on it.
        if not renamed:
            try:
                fh.close()
            except OSError:
                pass
            partial.unlink(missing_ok=True)


def file_sha256(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


class Storage(Protocol):
    tier: Tier

    def put(self, source: Path, name: str, metadata: dict[str, str]) -> StoredCopy: ...

    @contextmanager
    def open(self, location: str, version_id: str = "") -> Iterator[BinaryIO]: ...

    def delete(self, location: str, version_id: str = "") -> None: ...

    def list_names(self, suffix: str = "") -> Iterator[ListedObject]:
        """Every finished object in the tier (never a `.partial`), optionally only names ending in suffix."""
        ...


@dataclass(frozen=True)
class ListedObject:
    """One object found by listing a tier: its name relative to the tier, where it is, and its size."""

    name: str
    location: str
    size_bytes: int


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
            size, sha = file_sha256(final)
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


def storage_for(tier: Tier) -> Storage:
    if tier.kind == Tier.Kind.LOCAL:
        return LocalStorage(tier)
    if tier.kind == Tier.Kind.S3:
        from backups.s3 import S3Storage

        return S3Storage(tier)
    raise StorageError(f"tier {tier} ({tier.get_kind_display()}) does not store Lifeboat's artifacts")


def open_artifact(artifact: Artifact):
    """A context manager yielding the artifact's bytes as a stream, whichever tier holds it."""
    return storage_for(artifact.tier).open(artifact.location, artifact.version_id)
