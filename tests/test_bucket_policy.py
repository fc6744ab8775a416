"""Bucket policy as configuration: drift is detected, listed and announced; apply_bucket_policy fixes it."""

from __future__ import annotations

import json

from backups.models import BucketDriftCheck
from backups.signals import bucket_drift_checked
from backups.storage import bucket_policy
from tests.helpers import run_command


def test_a_new_bucket_differs_and_apply_bucket_policy_makes_it_match(s3_tier, moto_s3):
    heard = []
    bucket_drift_checked.connect(lambda sender, tier, differences, **kw: heard.append(differences), weak=False,
                                 dispatch_uid="test-drift")
    try:
        check = bucket_policy.check_drift(s3_tier)
        assert any("lifecycle rule lifeboat-" in d and "missing" in d for d in check.differences)
        assert any("BlockPublicAcls is off" in d for d in check.differences)
        assert heard[-1] == check.differences

        code, out, err = run_command("apply_bucket_policy", s3_tier.name)
        assert code == 0, out + err
        assert "in sync with the declared policy" in out
        assert heard[-1] == []
    finally:
        bucket_drift_checked.disconnect(dispatch_uid="test-drift")
    rules = moto_s3.get_bucket_lifecycle_configuration(Bucket=s3_tier.bucket)["Rules"]
    main = next(r for r in rules if r["ID"] == f"lifeboat-{s3_tier.name}")
    assert main["Transitions"][0]["Days"] == 30 and main["Transitions"][0]["StorageClass"] == "GLACIER"
    assert main["Expiration"]["Days"] == 90
    assert BucketDriftCheck.objects.filter(tier=s3_tier).latest("checked_at").status == "in sync"


def test_drift_reports_a_changed_lifecycle_rule_and_disabled_versioning_and_apply_fixes_both(s3_tier, moto_s3):
    bucket_policy.apply_policy(s3_tier)
    assert bucket_policy.check_drift(s3_tier).differences == []
    # Someone edits the bucket by hand: GLACIER after 60 days, expiry after 30, versioning suspended.
    rules = moto_s3.get_bucket_lifecycle_configuration(Bucket=s3_tier.bucket)["Rules"]
    for rule in rules:
        if rule["ID"] == f"lifeboat-{s3_tier.name}":
            rule["Transitions"] = [{"Days": 60, "StorageClass": "GLACIER"}]
            rule["Expiration"] = {"Days": 30}
    moto_s3.put_bucket_lifecycle_configuration(Bucket=s3_tier.bucket, LifecycleConfiguration={"Rules": rules})
    moto_s3.put_bucket_versioning(Bucket=s3_tier.bucket, VersioningConfiguration={"Status": "Suspended"})

    code, out, _ = run_command("apply_bucket_policy", s3_tier.name, "--check", "--json")
    differences = json.loads(out)["tiers"][0]["differences"]
    assert code == 1
    assert "versioning is Suspended, declared Enabled" in differences
    assert (f"lifecycle rule lifeboat-{s3_tier.name}: transition to GLACIER is after 60 days, declared after 30 days"
            in differences)
    assert f"lifecycle rule lifeboat-{s3_tier.name}: expiration is after 30 days, declared after 90 days" in differences
    assert len(differences) == 3

    code, out, _ = run_command("apply_bucket_policy", s3_tier.name)
    assert code == 0 and "versioning enabled" in out
    assert moto_s3.get_bucket_versioning(Bucket=s3_tier.bucket)["Status"] == "Enabled"
    assert bucket_policy.check_drift(s3_tier).differences == []


def test_a_foreign_rule_that_would_expire_backups_is_reported(s3_tier, moto_s3):
    bucket_policy.apply_policy(s3_tier)
    rules = moto_s3.get_bucket_lifecycle_configuration(Bucket=s3_tier.bucket)["Rules"]
    rules.append({"ID": "cleanup-everything", "Status": "Enabled", "Filter": {"Prefix": ""},
                  "Expiration": {"Days": 1}})
    moto_s3.put_bucket_lifecycle_configuration(Bucket=s3_tier.bucket, LifecycleConfiguration={"Rules": rules})
    differences = bucket_policy.check_drift(s3_tier).differences
    assert len(differences) == 1 and "cleanup-everything is not Lifeboat's" in differences[0]


def test_iam_policy_is_scoped_to_the_bucket_and_prefixes(s3_tier):
    policy = bucket_policy.iam_policy(s3_tier)
    resources = json.dumps(policy)
    assert f"arn:aws:s3:::{s3_tier.bucket}/backups/*" in resources
    assert f"arn:aws:s3:::{s3_tier.bucket}/archive/monthly/*" in resources
    assert '"*"' not in resources and "arn:aws:s3:::*" not in resources


def test_an_unreachable_bucket_is_recorded_as_drift(s3_tier, moto_s3):
    moto_s3.delete_bucket(Bucket=s3_tier.bucket)
    check = bucket_policy.check_drift(s3_tier)
    assert check.status == "unreadable" and "NoSuchBucket" in check.error
