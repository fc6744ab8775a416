"""The S3 tier: streaming multipart uploads with an S3 checksum, streaming downloads, versioned deletes.

Memory stays flat whatever the artifact's size: boto3's managed transfer reads one part per worker thread, and
the part size is chosen from the file's size so that even the largest artifact fits in S3's 10,000 parts.
A failed upload is tried again with backoff; every attempt that fails is aborted, so no multipart parts are
left behind: when S3 is unreachable even for the abort, it is tried again once the upload ends (also after a later
attempt succeeded), then recorded as a Leftover for the sweep; stale uploads are aborted by age, and the bucket
lifecycle's AbortIncompleteMultipartUpload rule is the last backstop.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import BinaryIO

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from django.conf import settings

from backups.errors import StorageError
from backups.models import Leftover, Tier
from backups.storage.aws import AWS_ERRORS, client_for, error_code, error_text
from backups.storage.interface import CHUNK, ListedObject, StoredCopy

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART = 8 * MiB  # S3's minimum is 5 MiB; 8 MiB is boto3's default and keeps small artifacts in few parts
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 1024**4  # 5 TiB, S3's largest object
DEFAULT_STORAGE_CLASS = "STANDARD_IA"
UPLOAD_ERRORS = (*AWS_ERRORS, S3UploadFailedError)


def part_size_for(size: int) -> int:
    """The smallest whole-MiB part size (at least MIN_PART) that fits `size` bytes in MAX_PARTS parts."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART, -(-needed // MiB) * MiB)


def local_checksums(path: Path, part_size: int) -> tuple[int, str, str, str]:
    """(size, sha256 hex, S3 full-object SHA-256, S3 composite SHA-256 "b64-N") of a file, in one pass.

    S3's composite checksum of a multipart upload is the SHA-256 of the parts' SHA-256 digests; computing it
    here with the same part size proves the bucket holds exactly our bytes without downloading them.
    """
    whole, part, digests = hashlib.sha256(), hashlib.sha256(), []
    size = in_part = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(min(CHUNK, part_size - in_part)):
            whole.update(chunk)
            part.update(chunk)
            size += len(chunk)
            in_part += len(chunk)
            if in_part == part_size:
                digests.append(part.digest())
                part, in_part = hashlib.sha256(), 0
    if in_part or not digests:
        digests.append(part.digest())
    composite = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
    return size, whole.hexdigest(), base64.b64encode(whole.digest()).decode(), f"{composite}-{len(digests)}"


class S3Storage:
    """An S3 bucket and prefix (or an S3-compatible store through endpoint_url)."""

    def __init__(self, tier: Tier) -> None:
        if not tier.bucket:
            raise StorageError(f"tier {tier} has no bucket configured")
        self.tier = tier
        self.bucket = tier.bucket
        self.prefix = tier.prefix
        self.client = client_for(tier, "s3")

    def key_for(self, name: str, prefix: str | None = None) -> str:
        if name.startswith("/") or ".." in name.split("/"):
            raise StorageError(f"{name!r} is not a safe object name")
        return f"{self.prefix if prefix is None else prefix}{name}"

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # --- upload ----------------------------------------------------------------------------------------

    def put(self, source: Path, name: str, metadata: dict[str, str]) -> StoredCopy:
        key = self.key_for(name)
        size = source.stat().st_size
        if size > MAX_OBJECT:
            raise StorageError(f"{source.name} is {size} bytes, more than S3's 5 TiB object limit")
        part_size = part_size_for(size)
        config = TransferConfig(multipart_threshold=MIN_PART, multipart_chunksize=part_size,
                                max_concurrency=settings.LIFEBOAT_S3_CONCURRENCY, use_threads=True)
        extra = {"StorageClass": self.tier.storage_class or DEFAULT_STORAGE_CLASS, "Metadata": metadata,
                 "ChecksumAlgorithm": "SHA256"}
        self._upload_with_retries(source, key, extra, config, multipart=size >= MIN_PART)
        return self._stored_copy(source, key, part_size)

    def _upload_with_retries(self, source: Path, key: str, extra: dict, config: TransferConfig,
                             multipart: bool = True) -> None:
        attempts = max(1, settings.LIFEBOAT_S3_UPLOAD_ATTEMPTS)
        unaborted = False  # a failed attempt whose parts S3 may still hold
        try:
            for attempt in range(1, attempts + 1):
                try:
                    self.client.upload_file(str(source), self.bucket, key, ExtraArgs=extra, Config=config)
                    return
                except UPLOAD_ERRORS as exc:
                    last = exc
                    log.warning("upload of %s, attempt %s of %s failed: %s", self.url(key), attempt, attempts, exc)
                    if multipart:  # a single PUT leaves nothing to abort
                        unaborted = self.abort_uploads(key) is None or unaborted
                    if attempt < attempts:
                        time.sleep(settings.LIFEBOAT_S3_BACKOFF_SECONDS * 2 ** (attempt - 1))
            raise StorageError(f"upload to {self.url(key)} failed after {attempts} attempts: {error_text(last)}")
        finally:
            # Also after a later attempt succeeded: the failed attempts' parts are aborted now, or remembered.
            if unaborted:
                self._abort_or_remember(key)

    def abort_uploads(self, key: str, strict: bool = False) -> int | None:
        """Abort every unfinished multipart upload of `key` (boto3 aborts its own, unless S3 was unreachable).

        Returns how many were aborted, or None when S3 could not be asked (raises StorageError if `strict`).
        """
        aborted = 0
        try:
            listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for upload in listing.get("Uploads", []):
                if upload["Key"] == key:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
                    aborted += 1
        except AWS_ERRORS as exc:
            if strict:
                raise StorageError(f"cannot abort uploads of {self.url(key)}: {error_text(exc)}") from None
            log.warning("could not abort unfinished uploads of %s (recorded for the sweep): %s",
                        self.url(key), error_text(exc))
            return None
        return aborted

    def _abort_or_remember(self, key: str) -> None:
        """Abort the key's unfinished uploads, or record them for the sweep (backups/storage/leftovers.py)."""
        if self.abort_uploads(key) is None:
            Leftover.objects.create(tier=self.tier, kind=Leftover.Kind.UPLOAD, location=key,
                                    reason="multipart upload not aborted",
                                    last_error="S3 unreachable while aborting the failed upload")

    def abort_uploads_started_before(self, cutoff) -> int:
        """Abort the tier's multipart uploads initiated before `cutoff` (no upload of ours runs that long)."""
        aborted = 0
        for upload in self.open_uploads():
            if upload["Initiated"] < cutoff:
                try:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                       UploadId=upload["UploadId"])
                except AWS_ERRORS as exc:
                    raise StorageError(f"cannot abort {self.url(upload['Key'])}: {error_text(exc)}") from None
                aborted += 1
        return aborted

    def _stored_copy(self, source: Path, key: str, part_size: int) -> StoredCopy:
        """Read back what S3 recorded (version, ETag, class, checksum) and compare its checksum with ours."""
        size, sha256, full, composite = local_checksums(source, part_size)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            version_id = head.get("VersionId") or ""
            attrs = self.client.get_object_attributes(
                Bucket=self.bucket, Key=key, **({"VersionId": version_id} if version_id else {}),
                ObjectAttributes=["Checksum", "ObjectSize", "StorageClass"])
        except AWS_ERRORS as exc:
            raise StorageError(f"{self.url(key)} was uploaded but cannot be read back: {error_text(exc)}") from None
        checksum = attrs.get("Checksum", {})
        remote = checksum.get("ChecksumSHA256", "")
        composite_type = checksum.get("ChecksumType") == "COMPOSITE" or size >= MIN_PART
        expected = composite if composite_type else full
        # S3 may give a composite checksum with or without its "-<parts>" suffix: compare the digest itself.
        if remote.split("-")[0] != expected.split("-")[0] or attrs.get("ObjectSize", head.get("ContentLength")) != size:
            self.delete(key, version_id)
            raise StorageError(f"{self.url(key)} holds different bytes (S3 SHA-256 {remote or 'missing'}, "
                               f"expected {expected}); the copy was removed")
        return StoredCopy(
            location=key, size_bytes=size, sha256=sha256, version_id=version_id,
            etag=head.get("ETag", "").strip('"'),
            storage_class=head.get("StorageClass") or attrs.get("StorageClass") or "STANDARD",
            extra={"remote_checksum": f"sha256:{expected}", "bucket": self.bucket,
                   "metadata": head.get("Metadata", {})},
        )

    # --- reading, deleting, listing --------------------------------------------------------------------

    @contextmanager
    def open(self, location: str, version_id: str = "") -> Iterator[BinaryIO]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=location,
                                              **({"VersionId": version_id} if version_id else {}))
        except AWS_ERRORS as exc:
            if error_code(exc) == "InvalidObjectState":
                raise StorageError(f"{self.url(location)} is in an archive storage class: restore it first "
                                   "(aws s3api restore-object), then try again") from None
            raise StorageError(f"cannot read {self.url(location)}: {error_text(exc)}") from None
        with closing(response["Body"]) as body:
            yield body

    def delete(self, location: str, version_id: str = "") -> None:
        """Delete one version for good (a versioned bucket would otherwise only add a delete marker)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=location,
                                      **({"VersionId": version_id} if version_id else {}))
        except AWS_ERRORS as exc:
            raise StorageError(f"cannot delete {self.url(location)}: {error_text(exc)}") from None

    def delete_versions(self, key: str) -> int:
        """Delete every version (and delete marker) of exactly `key`: an object whose version nobody recorded
        (its writer was killed) is removed for good, where a plain delete would only hide it."""
        deleted = 0
        try:
            listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=key)
            for entry in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
                if entry["Key"] == key:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=entry["VersionId"])
                    deleted += 1
        except AWS_ERRORS as exc:
            raise StorageError(f"cannot delete the versions of {self.url(key)}: {error_text(exc)}") from None
        return deleted

    def list_names(self, suffix: str = "") -> Iterator[ListedObject]:
        yield from self._list(self.prefix, suffix, relative=True)

    def list_archive(self, suffix: str = "") -> Iterator[ListedObject]:
        """The monthly archive prefix (outside the tier's prefix); names are the full keys."""
        if self.tier.archive_prefix:
            yield from self._list(self.tier.archive_prefix, suffix, relative=False)

    def _list(self, prefix: str, suffix: str, *, relative: bool) -> Iterator[ListedObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith(suffix):
                        name = obj["Key"][len(prefix):] if relative else obj["Key"]
                        yield ListedObject(name, obj["Key"], obj["Size"], obj.get("StorageClass") or "STANDARD")
        except AWS_ERRORS as exc:
            raise StorageError(f"cannot list s3://{self.bucket}/{prefix}: {error_text(exc)}") from None

    def request_restore(self, location: str, version_id: str = "", days: int = 7) -> str:
        """Ask S3 to restore a GLACIER / DEEP_ARCHIVE object for `days`; returns its restore state."""
        try:
            self.client.restore_object(Bucket=self.bucket, Key=location, RestoreRequest={
                "Days": days, "GlacierJobParameters": {"Tier": "Standard"}},
                **({"VersionId": version_id} if version_id else {}))
        except AWS_ERRORS as exc:
            if "RestoreAlreadyInProgress" not in error_text(exc):
                raise StorageError(f"cannot request the restore of {self.url(location)}: {error_text(exc)}"
                                   ) from None
        return self.restore_state(location, version_id)

    def restore_state(self, location: str, version_id: str = "") -> str:
        """"restored", "in progress" or "not requested" (S3's `x-amz-restore` header of the object)."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=location,
                                           **({"VersionId": version_id} if version_id else {}))
        except AWS_ERRORS as exc:
            raise StorageError(f"cannot read {self.url(location)}: {error_text(exc)}") from None
        header = head.get("Restore") or ""
        if 'ongoing-request="false"' in header:
            return "restored"
        return "in progress" if 'ongoing-request="true"' in header else "not requested"

    def open_uploads(self) -> list[dict]:
        """Unfinished multipart uploads under the tier's prefix (none, unless an abort could not reach S3)."""
        try:
            return self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
        except AWS_ERRORS as exc:
            raise StorageError(f"cannot list uploads of {self.url(self.prefix)}: {error_text(exc)}") from None

    # --- the monthly archive ---------------------------------------------------------------------------

    def archive(self, location: str, version_id: str) -> StoredCopy:
        """Copy an object under the archive prefix (outside the lifecycle's expiry), then delete the original."""
        if not self.tier.archive_prefix:
            raise StorageError(f"tier {self.tier} has no archive prefix")
        name = location[len(self.prefix):] if location.startswith(self.prefix) else location.rsplit("/", 1)[-1]
        target = self.key_for(name, prefix=self.tier.archive_prefix)
        source = {"Bucket": self.bucket, "Key": location, **({"VersionId": version_id} if version_id else {})}
        try:
            self.client.copy(source, self.bucket, target, ExtraArgs={
                "StorageClass": self.tier.storage_class or DEFAULT_STORAGE_CLASS, "MetadataDirective": "COPY",
                "ChecksumAlgorithm": "SHA256"})
            head = self.client.head_object(Bucket=self.bucket, Key=target)
        except (*UPLOAD_ERRORS, ValueError) as exc:
            self._abort_or_remember(target)
            raise StorageError(f"cannot archive {self.url(location)}: {error_text(exc)}") from None
        self.delete(location, version_id)
        return StoredCopy(location=target, size_bytes=head["ContentLength"],
                          sha256=head["Metadata"].get("sha256", ""),
                          version_id=head.get("VersionId") or "", etag=head.get("ETag", "").strip('"'),
                          storage_class=head.get("StorageClass") or "STANDARD")
