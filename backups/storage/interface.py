"""The storage interface every tier's backend implements: put a finished artifact, open it, delete it, list.

Every backend writes so that a reader never sees a half-written copy: LocalStorage writes to `<name>.partial`,
fsyncs and renames; S3Storage uses a multipart upload that is aborted on any failure.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from backups.models import Tier

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


@contextmanager
def atomic_file(final: Path) -> Iterator[HashingWriter]:
    """Write to `<final>.partial`; on success fsync and rename, on any failure remove the partial file."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    fh = open(partial, "xb")
    try:
        writer = HashingWriter(fh)
        yield writer
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(partial, final)
        fsync_dir(final.parent)
    except BaseException:
        fh.close()
        partial.unlink(missing_ok=True)
        raise


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
