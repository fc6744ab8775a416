"""Backup -> S3 upload -> download -> restore of a real database, through moto's server on a loopback port;
and a real backup that meets an S3 outage mid-upload."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest

from backups.engine import pipeline
from backups.models import Artifact, BackupRun, RetentionPolicy, Tier
from backups.proof.verification import verify_artifact
from backups.recovery import restore
from backups.storage import storage_for
from tests.aws import REGION, make_bucket
from tests.helpers import table_counts

TABLES = ["users", "lessons", "problems"]


@pytest.fixture
def server_tier(db, moto_server):
    client = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    tier = Tier.objects.create(name=f"s3-e2e-{uuid.uuid4().hex[:6]}", kind=Tier.Kind.S3,
                               bucket=make_bucket(client), prefix="backups/", region=REGION,
                               endpoint_url=moto_server, storage_class="STANDARD_IA", position=5)
    RetentionPolicy.objects.create(tier=tier, keep_days=90, keep_last=3, monthly_forever=True)
    return tier, client


@pytest.fixture
def target_db(pg_server):
    name = f"lbt_s3restore_{uuid.uuid4().hex[:8]}"
    yield name
    pg_server.drop_database(name)


@pytest.mark.slow
def test_backup_uploads_downloads_and_restores_through_a_real_s3_endpoint(
        learning_db, local_tier, server_tier, pg_server, target_db):
    tier, client = server_tier
    run = pipeline.backup(learning_db, tiers=[local_tier, tier])
    assert run.status == BackupRun.Status.SUCCEEDED, run.error

    copy = run.artifacts.get(tier=tier)
    assert copy.is_live and copy.location.startswith("backups/") and copy.location.endswith(".dump.zst")
    assert copy.sha256 == run.sha256 and copy.size_bytes == run.size_bytes
    assert copy.version_id and copy.etag and copy.storage_class == "STANDARD_IA"
    assert copy.remote_checksum.startswith("sha256:")
    head = client.head_object(Bucket=tier.bucket, Key=copy.location, VersionId=copy.version_id)
    assert head["Metadata"] == {"backup-date": f"{run.started_at:%Y-%m-%d}", "database": learning_db.name,
                                "sha256": run.sha256, "lifeboat-run-id": str(run.pk)}
    assert head["StorageClass"] == "STANDARD_IA"
    assert copy.globals_location and client.head_object(Bucket=tier.bucket, Key=copy.globals_location)

    sha = hashlib.sha256()
    with storage_for(tier).open(copy.location, copy.version_id) as stream:
        while chunk := stream.read(64 * 1024):
            sha.update(chunk)
    assert sha.hexdigest() == run.sha256

    record = restore.restore(copy, target_db)
    assert record.status == "succeeded", record.error
    assert table_counts(pg_server, target_db, TABLES) == table_counts(pg_server, learning_db.dbname, TABLES)

    verification = verify_artifact(copy)
    assert verification.status == "passed", verification.error


NOISE = """
CREATE TABLE noise (id int PRIMARY KEY, payload text NOT NULL);
INSERT INTO noise SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text)
FROM generate_series(1, 240000) g;
"""


@pytest.mark.slow
def test_s3_outage_mid_upload_fails_only_the_s3_copy(learning_db, local_tier, s3_tier, moto_s3, pg_server,
                                                    s3_outage):
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute(NOISE)  # a dump of several parts, so the outage starts in the middle of the upload
    outage = s3_outage({"UploadPart"}, after=1)

    run = pipeline.backup(learning_db, tiers=[local_tier, s3_tier])

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert run.size_bytes > 8 * 1024 * 1024 and outage.failed >= 3
    failed = run.artifacts.get(tier=s3_tier)
    assert failed.status == Artifact.Status.FAILED and "failed after 3 attempts" in failed.error
    assert moto_s3.list_multipart_uploads(Bucket=s3_tier.bucket).get("Uploads", []) == []
    local = run.artifacts.get(tier=local_tier)
    assert local.is_live
    with open(local.location, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == run.sha256
    assert verify_artifact(local).status == "passed"
