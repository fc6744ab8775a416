"""The storage interface every tier's backend implements: put a finished artifact, open it, delete it, list.

Every backend writes so that a reader never sees a half-written copy: LocalStorage writes to `<name>.partial`,
fsyncs and renames; S3Storage uses a multipart upload that is aborted on any failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

# Re-exported: storage's users find the chunk size and the hashing wrappers beside the interface.
from core.hashing import CHUNK, HashingReader, HashingWriter, sha256_of  # noqa: F401

if TYPE_CHECKING:
    from backups.models import Tier


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

    A partial file left by a killed worker is removed by the `lifeboat:sweep-leftovers` task
    (backups/storage/leftovers.py).
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


COLD_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})  # not GLACIER_IR: that one reads instantly


class Storage(Protocol):
    """One backend per tier kind. What it can do is declared per kind (`Tier.FEATURES`, a `Feature` flag set):
    ask `tier.can(Feature.X)`, which needs no client, rather than which kind the tier is."""

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
    """One object found by listing a tier: its name relative to the tier, where it is, its size, and (S3) its
    storage class: an object in GLACIER or DEEP_ARCHIVE cannot be read until it is restored."""

    name: str
    location: str
    size_bytes: int
    storage_class: str = ""

    @property
    def needs_restore(self) -> bool:
        return self.storage_class in COLD_STORAGE_CLASSES
