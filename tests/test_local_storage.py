"""The storage interface and its local backend: a reader never sees a half-written copy, names stay inside the
tier's directory, listing skips unfinished files, and each tier kind gets the backend that stores it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from backups import storage
from backups.errors import StorageError
from backups.models import Artifact, Tier
from backups.storage import interface
from backups.storage.interface import HashingWriter, ListedObject, StoredCopy, atomic_file, sha256_of
from backups.storage.local import LocalStorage


def local(root: Path) -> LocalStorage:
    return LocalStorage(Tier(name="local", kind=Tier.Kind.LOCAL, path=str(root)))


def test_the_hashing_writer_counts_hashes_and_passes_every_byte_through():
    sink = io.BytesIO()
    writer = HashingWriter(sink)
    assert writer.write(b"abc") == 3 and writer.write(b"") == 0 and writer.write(b"de") == 2
    writer.flush()
    assert sink.getvalue() == b"abcde" and writer.size == 5
    assert writer.sha256 == hashlib.sha256(b"abcde").hexdigest()


def test_an_atomic_file_appears_whole_under_its_name_or_not_at_all(tmp_path):
    final = tmp_path / "new" / "copy.bin"
    with atomic_file(final) as out:
        out.write(b"complete")
        assert not final.exists() and final.with_name("copy.bin.partial").exists()
    assert final.read_bytes() == b"complete" and not final.with_name("copy.bin.partial").exists()

    broken = tmp_path / "broken.bin"
    with pytest.raises(RuntimeError), atomic_file(broken) as out:
        out.write(b"half")
        raise RuntimeError("the dump failed")
    assert list(tmp_path.glob("broken*")) == []


def test_sha256_of_reads_a_file_larger_than_one_chunk(tmp_path):
    data = b"x" * (interface.CHUNK + 7)
    (tmp_path / "f").write_bytes(data)
    with open(tmp_path / "f", "rb") as fh:
        assert sha256_of(fh) == (len(data), hashlib.sha256(data).hexdigest())


def test_a_name_outside_the_tier_directory_is_refused(tmp_path):
    tier = local(tmp_path / "tier")
    assert tier.path_for("db/a.dump") == (tmp_path / "tier" / "db" / "a.dump").resolve()
    for name in ("../escape.dump", "/etc/passwd", "db/../../x"):
        with pytest.raises(StorageError, match="outside the tier's directory"):
            tier.path_for(name)


def test_a_second_copy_in_the_same_second_gets_a_numbered_name(tmp_path):
    tier = local(tmp_path)
    assert tier.unique_path("db_20261130", ".dump.zst") == (tmp_path / "db_20261130.dump.zst").resolve()
    (tmp_path / "db_20261130.dump.zst").write_bytes(b"1")
    (tmp_path / "db_20261130_2.dump.zst.partial").write_bytes(b"2")  # a run still writing also holds its name
    assert tier.unique_path("db_20261130", ".dump.zst") == (tmp_path / "db_20261130_3.dump.zst").resolve()


def test_put_copies_a_file_in_whole_and_reports_its_size_and_hash(tmp_path):
    source = tmp_path / "staged.bin"
    source.write_bytes(b"backup bytes")
    tier = local(tmp_path / "tier")
    copy = tier.put(source, "db/a.bin", {})
    expected = StoredCopy(location=str((tmp_path / "tier" / "db" / "a.bin").resolve()), size_bytes=12,
                          sha256=hashlib.sha256(b"backup bytes").hexdigest())
    assert copy == expected and Path(copy.location).read_bytes() == b"backup bytes"
    assert source.exists()


def test_put_of_a_file_already_in_place_only_measures_it(tmp_path):
    tier = local(tmp_path)
    in_place = tmp_path / "a.bin"
    in_place.write_bytes(b"written by the pipeline")
    copy = tier.put(in_place, "a.bin", {})
    assert copy.location == str(in_place.resolve()) and copy.size_bytes == 23
    assert copy.sha256 == hashlib.sha256(b"written by the pipeline").hexdigest()


def test_open_reads_a_copy_and_a_missing_one_is_a_storage_error(tmp_path):
    tier = local(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"data")
    with tier.open(str(tmp_path / "a.bin")) as fh:
        assert fh.read() == b"data"
    assert fh.closed
    with pytest.raises(StorageError, match=r"cannot read .*missing.bin: No such file or directory"), \
            tier.open(str(tmp_path / "missing.bin")):
        pass


def test_delete_removes_a_copy_and_a_missing_one_is_no_error(tmp_path):
    tier = local(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"data")
    tier.delete(str(tmp_path / "a.bin"))
    tier.delete(str(tmp_path / "a.bin"))
    assert not (tmp_path / "a.bin").exists()


def test_listing_names_finished_files_relative_to_the_tier_and_skips_unfinished_ones(tmp_path):
    assert list(local(tmp_path / "not-yet").list_names()) == []
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "b.dump.zst").write_bytes(b"12345")
    (tmp_path / "db" / "b.dump.zst.json").write_bytes(b"{}")
    (tmp_path / "a.dump.zst").write_bytes(b"1")
    (tmp_path / "c.dump.zst.partial").write_bytes(b"half")
    (tmp_path / "d.dump.zst").mkdir()  # a directory is not an object, whatever its name
    listed = list(local(tmp_path).list_names())
    assert [o.name for o in listed] == ["a.dump.zst", "db/b.dump.zst", "db/b.dump.zst.json"]
    assert listed[1] == ListedObject("db/b.dump.zst", str((tmp_path / "db" / "b.dump.zst").resolve()), 5)
    assert [o.name for o in local(tmp_path).list_names(".json")] == ["db/b.dump.zst.json"]


def test_each_tier_kind_gets_the_backend_that_stores_it(tmp_path):
    from backups.storage.s3 import S3Storage

    assert isinstance(storage.storage_for(Tier(name="l", kind=Tier.Kind.LOCAL, path=str(tmp_path))), LocalStorage)
    s3 = Tier(name="s", kind=Tier.Kind.S3, bucket="b", prefix="p/")
    assert isinstance(storage.storage_for(s3), S3Storage)
    with pytest.raises(StorageError, match=r"tier rds \(.*\) does not store Lifeboat's artifacts"):
        storage.storage_for(Tier(name="rds", kind=Tier.Kind.RDS))


def test_an_artifact_opens_through_its_own_tier(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"artifact")
    artifact = Artifact(tier=Tier(name="l", kind=Tier.Kind.LOCAL, path=str(tmp_path)),
                        location=str(tmp_path / "a.bin"))
    with storage.open_artifact(artifact) as fh:
        assert fh.read() == b"artifact"


def test_a_copy_renamed_but_not_made_durable_is_not_kept(tmp_path, monkeypatch):
    def directory_fsync_fails(path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(interface, "fsync_dir", directory_fsync_fails)
    with pytest.raises(OSError), atomic_file(tmp_path / "a.bin") as out:
        out.write(b"data")
    assert list(tmp_path.iterdir()) == []
