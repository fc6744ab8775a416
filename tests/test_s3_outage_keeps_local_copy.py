"""One tier failing never harms another: S3 going down between the dump object and its manifest keeps the local
copy and the run good; what could not be cleaned in the bucket is recorded and swept once S3 is back. And every
failed multipart upload is aborted, also when a later attempt succeeded."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import boto3
import botocore.handlers
import pytest
from botocore.exceptions import ConnectionClosedError

from backups.engine import pipeline
from backups.models import Artifact, BackupRun, Leftover, Tier
from backups.storage import leftovers
from backups.storage.s3 import MIN_PART, S3Storage
from tests.aws import REGION, TcpProxy, make_bucket


@pytest.fixture
def proxied_tier(db, moto_server):
    """An S3 tier whose endpoint is a TCP proxy in front of moto's threaded server; a client that bypasses it."""
    port = int(moto_server.rsplit(":", 1)[1])
    proxy = TcpProxy(port)
    direct = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    tier = Tier.objects.create(name=f"s3-cut-{uuid.uuid4().hex[:6]}", kind=Tier.Kind.S3,
                               bucket=make_bucket(direct), prefix="backups/", region=REGION,
                               endpoint_url=proxy.url, storage_class="STANDARD_IA", position=5)
    yield tier, proxy, direct
    proxy.close()


@pytest.mark.slow
def test_s3_going_down_after_the_dump_object_keeps_the_local_copy_and_the_run_good(
        learning_db, local_tier, proxied_tier, monkeypatch):
    tier, proxy, direct = proxied_tier
    put = S3Storage.put

    def put_then_cut(self, source, name, metadata):
        copy = put(self, source, name, metadata)
        if name.endswith(".dump.zst"):
            proxy.cut()  # the dump object is stored; its globals and manifest will not be
        return copy

    monkeypatch.setattr(S3Storage, "put", put_then_cut)
    run = pipeline.backup(learning_db, tiers=[local_tier, tier])

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    local = run.artifacts.get(tier=local_tier)
    assert local.is_live
    with open(local.location, "rb") as fh:  # the good local copy is there, whole
        assert len(fh.read()) == run.size_bytes
    s3 = run.artifacts.get(tier=tier)
    assert s3.status == Artifact.Status.FAILED
    # The half-stored dump object could not be removed while S3 was down: it is on the orphan list, not lost.
    (leftover,) = Leftover.objects.pending()
    assert leftover.tier == tier and leftover.location.endswith(".dump.zst") and leftover.version_id
    assert direct.list_objects_v2(Bucket=tier.bucket).get("KeyCount") == 1

    assert leftovers.sweep_leftovers() == 0  # still down: retried later, counted
    leftover.refresh_from_db()
    assert leftover.attempts == 2 and leftover.removed_at is None
    proxy.resume()
    assert leftovers.sweep_leftovers() == 1
    assert not Leftover.objects.pending().exists()
    versions = direct.list_object_versions(Bucket=tier.bucket)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")


class Network:
    """S3 unreachable from the first UploadPart until `restore()`, for every operation (aborts included)."""

    def __init__(self) -> None:
        self.down = False
        self.refused: list[str] = []

    def __call__(self, request, **kwargs):
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        if operation == "UploadPart" and not self.refused:
            self.down = True
        if self.down:
            self.refused.append(operation)
            raise ConnectionClosedError(endpoint_url=request.url)
        return None

    def restore(self, *args) -> None:
        self.down = False


def test_a_failed_multipart_upload_is_aborted_also_after_the_retry_succeeded(s3_tier, moto_s3, tmp_path,
                                                                             monkeypatch, settings):
    settings.LIFEBOAT_S3_UPLOAD_ATTEMPTS = 2
    network = Network()
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS",
                        [("before-send.s3", network), *botocore.handlers.BUILTIN_HANDLERS])
    # S3 is back during Lifeboat's backoff between two attempts (botocore's own retries still meet the outage).
    monkeypatch.setattr("backups.storage.s3.time", SimpleNamespace(sleep=network.restore))
    source = tmp_path / "big.dump.zst"
    source.write_bytes(b"x" * (MIN_PART + 1024))  # two parts: a multipart upload

    copy = S3Storage(s3_tier).put(source, source.name, {})

    assert copy.size_bytes == MIN_PART + 1024
    assert "AbortMultipartUpload" in network.refused or "ListMultipartUploads" in network.refused
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []
    assert not Leftover.objects.exists()


def test_an_upload_that_could_not_be_aborted_is_remembered_and_swept(s3_tier, moto_s3, tmp_path, monkeypatch,
                                                                    settings):
    settings.LIFEBOAT_S3_UPLOAD_ATTEMPTS = 1
    network = Network()
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS",
                        [("before-send.s3", network), *botocore.handlers.BUILTIN_HANDLERS])
    source = tmp_path / "big.dump.zst"
    source.write_bytes(b"x" * (MIN_PART + 1024))

    with pytest.raises(Exception, match="failed after 1 attempts"):
        S3Storage(s3_tier).put(source, source.name, {})
    (leftover,) = Leftover.objects.pending()
    assert leftover.kind == Leftover.Kind.UPLOAD and leftover.location == "backups/big.dump.zst"
    network.restore()
    assert len(moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", [])) == 1

    assert leftovers.sweep_leftovers() == 1
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []
