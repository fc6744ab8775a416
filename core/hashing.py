"""SHA-256 over streams, said once: a writer and a reader that hash what passes through, and `sha256_of`.

Every layer hashes bytes on their way somewhere (artifacts into a tier, out of a tier into pg_restore, evidence
packages into a zip), so this sits in core where all of them can import it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


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


class HashingReader:
    """A read-only file wrapper that counts and hashes what is read through it (e.g. by a decompressor)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._sha.update(data)
        self.size += len(data)
        return data

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Read to the end, yielding what was read."""
        while chunk := self.read(size):
            yield chunk

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def sha256_of(source: BinaryIO | Path) -> tuple[int, str]:
    """(size, hex SHA-256) of an open binary stream read to its end, or of the file at a path."""
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return sha256_of(fh)
    reader = HashingReader(source)
    for _ in reader.chunks():
        pass
    return reader.size, reader.sha256
