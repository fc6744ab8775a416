"""S3: SSE-KMS with a customer-managed key as a tier option; the declared bucket policy sets default encryption
and refuses requests without TLS, and the drift check notices either one missing. moto does not evaluate bucket
policies, so the document itself is what is tested for the TLS rule."""

from __future__ import annotations

import json

import boto3
import pytest

from backups.engine import pipeline
from backups.models import Artifact, Tier
from backups.storage import bucket_policy, storage_for
from tests.aws import REGION


@pytest.fixture
def kms_key(moto_s3) -> str:
    return boto3.client("kms", region_name=REGION).create_key(Description="lifeboat backups")["KeyMetadata"]["Arn"]


@pytest.fixture
def kms_tier(s3_tier, kms_key) -> Tier:
    s3_tier.kms_key_id = kms_key
    s3_tier.save()
    return s3_tier


def test_uploads_ask_for_sse_kms_with_the_tiers_key_and_record_it(kms_tier, kms_key, moto_s3, tmp_path):
    source = tmp_path / "db_backup.dump.zst.age"
    source.write_bytes(b"age-encryption.org/v1\n" + b"x" * 1000)

    copy = storage_for(kms_tier).put(source, source.name, {"sha256": "x"})

    head = moto_s3.head_object(Bucket=kms_tier.bucket, Key=copy.location)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
    assert copy.extra["kms_key_id"] == kms_key


def test_a_backup_to_an_sse_kms_tier_records_the_key_on_its_artifact(kms_tier, kms_key, learning_db, local_tier,
                                                                     moto_s3):
    run = pipeline.backup(learning_db, tiers=[local_tier, kms_tier])

    assert run.status == "succeeded", run.error
    remote = run.artifacts.get(tier=kms_tier)
    assert remote.status == Artifact.Status.STORED and remote.kms_key_id == kms_key
    assert run.artifacts.get(tier=local_tier).kms_key_id == ""
    for key in (remote.location, remote.manifest_location, remote.globals_location):
        assert moto_s3.head_object(Bucket=kms_tier.bucket, Key=key)["ServerSideEncryption"] == "aws:kms"


def test_the_declared_policy_denies_every_request_without_tls(kms_tier):
    document = bucket_policy.declared_policy(kms_tier)
    deny = [s for s in document["Statement"] if s["Effect"] == "Deny"]

    assert len(deny) == 1
    statement = deny[0]
    assert statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{kms_tier.bucket}", f"arn:aws:s3:::{kms_tier.bucket}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert bucket_policy.declared_encryption(kms_tier) == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_tier.kms_key_id},
        "BucketKeyEnabled": True}


def test_drift_notices_missing_default_encryption_and_tls_rule_and_apply_sets_both(kms_tier, kms_key, moto_s3):
    before = bucket_policy.check_drift(kms_tier).differences
    assert any(d.startswith("default encryption is") and f"declared aws:kms with key {kms_key}" in d for d in before)
    assert "the bucket policy does not deny requests without TLS (aws:SecureTransport false)" in before

    bucket_policy.apply_policy(kms_tier)

    assert bucket_policy.check_drift(kms_tier).differences == []
    rule = moto_s3.get_bucket_encryption(Bucket=kms_tier.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}
    live = json.loads(moto_s3.get_bucket_policy(Bucket=kms_tier.bucket)["Policy"])
    assert any(s["Sid"] == bucket_policy.TLS_ONLY_SID and s["Effect"] == "Deny" for s in live["Statement"])

    # Someone removes both by hand: the daily check says so.
    moto_s3.delete_bucket_policy(Bucket=kms_tier.bucket)
    moto_s3.delete_bucket_encryption(Bucket=kms_tier.bucket)
    after = bucket_policy.check_drift(kms_tier).differences
    assert after == [f"default encryption is off, declared aws:kms with key {kms_key}",
                     "the bucket policy does not deny requests without TLS (aws:SecureTransport false)"]


def test_a_weakened_tls_rule_is_drift_and_other_statements_survive_apply(s3_tier, moto_s3):
    bucket_policy.apply_policy(s3_tier)
    foreign = {"Sid": "AuditorsRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
               "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{s3_tier.bucket}/backups/*"}
    weakened = bucket_policy.tls_only_statement(s3_tier.bucket)
    weakened["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    moto_s3.put_bucket_policy(Bucket=s3_tier.bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [foreign, weakened]}))

    differences = bucket_policy.check_drift(s3_tier).differences
    assert differences == [f"the bucket policy statement {bucket_policy.TLS_ONLY_SID} differs from the declared one"]

    bucket_policy.apply_policy(s3_tier)
    live = json.loads(moto_s3.get_bucket_policy(Bucket=s3_tier.bucket)["Policy"])["Statement"]
    assert [s["Sid"] for s in live] == ["AuditorsRead", bucket_policy.TLS_ONLY_SID]
    assert bucket_policy.check_drift(s3_tier).differences == []


def test_the_runtime_identity_cannot_delete_versions_or_change_the_bucket(kms_tier):
    runtime = json.dumps(bucket_policy.iam_policy(kms_tier))
    assert "s3:DeleteObjectVersion" not in runtime and '"s3:DeleteObject"' in runtime
    for action in bucket_policy.WRITE_BUCKET_CONFIG:
        assert action not in runtime
    kms = [s for s in bucket_policy.iam_policy(kms_tier)["Statement"] if s["Sid"] == "LifeboatKmsKey"]
    assert kms and kms[0]["Resource"] == kms_tier.kms_key_id
    admin = json.dumps(bucket_policy.admin_iam_policy(kms_tier))
    assert all(action in admin for action in bucket_policy.WRITE_BUCKET_CONFIG)


def test_applying_without_the_admin_rights_says_which_identity_to_use(s3_tier, monkeypatch):
    from botocore.exceptions import ClientError

    from backups.errors import StorageError

    def denied(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutBucketPolicy")

    monkeypatch.setattr(bucket_policy, "_apply", denied)
    with pytest.raises(StorageError, match=f"apply_bucket_policy {s3_tier.name} --profile ADMIN"):
        bucket_policy.apply_policy(s3_tier)
