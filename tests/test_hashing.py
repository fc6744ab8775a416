"""core.hashing: the one stream-hashing reader and writer, and sha256_of, against hashlib over the same bytes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import zstandard

from core.hashing import HashingReader, HashingWriter, sha256_of

DATA = bytes(range(256)) * 9000  # about 2.3 MB: more than one CHUNK


def test_reader_hashes_and_counts_every_byte_read_in_any_sizes():
    reader = HashingReader(io.BytesIO(DATA))
    assert reader.read(7) == DATA[:7]
    rest = b"".join(reader.chunks(100_000))
    assert DATA[:7] + rest == DATA
    assert reader.read() == b""
    assert (reader.size, reader.sha256) == (len(DATA), hashlib.sha256(DATA).hexdigest())


def test_reader_hashes_only_what_was_read():
    reader = HashingReader(io.BytesIO(DATA))
    reader.read(1000)
    assert (reader.size, reader.sha256) == (1000, hashlib.sha256(DATA[:1000]).hexdigest())


def test_reader_hashes_the_compressed_bytes_a_decompressor_pulls_through_it():
    compressed = zstandard.ZstdCompressor().compress(DATA)
    reader = HashingReader(io.BytesIO(compressed))
    with zstandard.ZstdDecompressor().stream_reader(reader) as plain:
        assert plain.read() == DATA
    assert reader.sha256 == hashlib.sha256(compressed).hexdigest()


def test_writer_writes_through_and_hashes():
    out = io.BytesIO()
    writer = HashingWriter(out)
    assert writer.write(DATA[:10]) == 10
    writer.write(DATA[10:])
    writer.flush()
    assert out.getvalue() == DATA
    assert (writer.size, writer.sha256) == (len(DATA), hashlib.sha256(DATA).hexdigest())


def test_sha256_of_a_stream_and_a_path(tmp_path: Path):
    path = tmp_path / "blob"
    path.write_bytes(DATA)
    expected = (len(DATA), hashlib.sha256(DATA).hexdigest())
    assert sha256_of(path) == expected
    with path.open("rb") as fh:
        assert sha256_of(fh) == expected
    assert sha256_of(io.BytesIO(b"")) == (0, hashlib.sha256(b"").hexdigest())
