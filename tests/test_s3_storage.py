"""The S3 tier against moto in-process: checksummed multipart uploads, metadata, versions, streaming reads."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from backups.errors import StorageError
from backups.storage import storage_for
from backups.storage.s3 import MAX_PARTS, MIN_PART, MiB, S3Storage, part_size_for

META = {"backup-date": "2026-11-24", "database": "dsa_learning", "sha256": "x" * 64, "lifeboat-run-id": "42"}


def write_random(path, size: int):
    with open(path, "wb") as fh:
        fh.write(os.urandom(size))
    return path


def test_part_size_fits_the_largest_object_in_ten_thousand_parts():
    assert part_size_for(1) == MIN_PART
    assert part_size_for(MIN_PART * MAX_PARTS) == MIN_PART
    for size in (MIN_PART * MAX_PARTS + 1, 200 * 1024**3, 5 * 1024**4):
        part = part_size_for(size)
        assert part % MiB == 0 and part >= 5 * MiB
        assert -(-size // part) <= MAX_PARTS


def test_multipart_upload_records_metadata_class_version_etag_and_checksum(s3_tier, moto_s3, tmp_path):
    source = write_random(tmp_path / "db_backup.dump.zst", 20 * MiB + 123)
    storage = storage_for(s3_tier)
    assert isinstance(storage, S3Storage)

    copy = storage.put(source, source.name, META)

    data = source.read_bytes()
    assert copy.location == "backups/db_backup.dump.zst"
    assert copy.sha256 == hashlib.sha256(data).hexdigest() and copy.size_bytes == len(data)
    assert copy.storage_class == "STANDARD_IA" and copy.version_id and copy.etag.endswith("-3")
    parts = [data[i:i + MIN_PART] for i in range(0, len(data), MIN_PART)]
    composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest())
    assert copy.extra["remote_checksum"] == f"sha256:{composite.decode()}-3"
    head = moto_s3.head_object(Bucket=s3_tier.bucket, Key=copy.location, VersionId=copy.version_id)
    assert head["Metadata"] == META and head["StorageClass"] == "STANDARD_IA"
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []


def test_small_file_gets_a_full_object_checksum(s3_tier, moto_s3, tmp_path):
    source = write_random(tmp_path / "small.globals.sql", 1000)
    copy = storage_for(s3_tier).put(source, source.name, META)
    expected = base64.b64encode(hashlib.sha256(source.read_bytes()).digest()).decode()
    assert copy.extra["remote_checksum"] == f"sha256:{expected}"


def test_download_streams_the_exact_version_and_delete_leaves_a_marker_keeping_history(s3_tier, moto_s3, tmp_path):
    source = write_random(tmp_path / "a.dump.zst", 9 * MiB)
    storage = storage_for(s3_tier)
    first = storage.put(source, "a.dump.zst", META)
    write_random(source, 1000)
    second = storage.put(source, "a.dump.zst", META)
    assert first.version_id != second.version_id

    with storage.open(first.location, first.version_id) as stream:
        chunks = []
        while chunk := stream.read(MiB):
            assert len(chunk) <= MiB  # read in pieces, never the whole object at once
            chunks.append(chunk)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == first.sha256
    assert [o.name for o in storage.list_names(".zst")] == ["a.dump.zst"]

    storage.delete(first.location, first.version_id)  # no longer current: already history, nothing written
    assert "DeleteMarkers" not in moto_s3.list_object_versions(Bucket=s3_tier.bucket)

    storage.delete(second.location, second.version_id)
    listing = moto_s3.list_object_versions(Bucket=s3_tier.bucket)
    # A delete marker, no version removed: the lifecycle removes noncurrent versions after the grace period.
    assert sorted(v["VersionId"] for v in listing["Versions"]) == sorted([first.version_id, second.version_id])
    assert [m["IsLatest"] for m in listing["DeleteMarkers"]] == [True]
    with pytest.raises(StorageError, match="cannot read"):
        with storage.open(second.location):
            pass
    with storage.open(second.location, second.version_id) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == second.sha256


def test_outage_mid_upload_is_retried_then_aborted_leaving_no_parts(s3_tier, moto_s3, tmp_path, s3_outage):
    source = write_random(tmp_path / "big.dump.zst", 30 * MiB)
    before = source.read_bytes()
    outage = s3_outage({"UploadPart"}, after=1)  # the first part lands, then the connection keeps dropping

    with pytest.raises(StorageError, match="failed after 3 attempts"):
        storage_for(s3_tier).put(source, source.name, META)

    assert outage.failed >= 3  # every attempt met the outage (botocore retried each part too)
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []
    assert "Versions" not in moto_s3.list_object_versions(Bucket=s3_tier.bucket)
    assert source.read_bytes() == before  # the local copy is untouched


def test_outage_that_ends_is_survived_by_a_retry(s3_tier, moto_s3, tmp_path, s3_outage, settings):
    settings.LIFEBOAT_AWS_MAX_ATTEMPTS = 1  # no per-request retry: the whole-upload retry must do it
    source = write_random(tmp_path / "flaky.dump.zst", 17 * MiB)
    outage = s3_outage({"CompleteMultipartUpload"}, limit=1)
    copy = storage_for(s3_tier).put(source, source.name, META)
    assert outage.failed == 1 and copy.version_id
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []


def test_an_s3_tier_without_a_bucket_is_a_clear_error(db):
    from backups.models import Tier

    with pytest.raises(StorageError, match="no bucket"):
        storage_for(Tier(name="nobucket", kind=Tier.Kind.S3, bucket=""))
