"""The bucket policy's decisions without a bucket: the lifecycle rules a tier declares, how a live bucket is read
and compared, and exactly which calls `apply` makes (a recording client stands in for S3; the moto tests in
test_bucket_policy.py run the same code against a real API)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from backups.errors import StorageError
from backups.models import Tier
from backups.storage import bucket_policy
from backups.storage.bucket_policy import (
    BucketState,
    declared_encryption,
    declared_policy,
    declared_rules,
    describe_rule,
    differences,
    iam_policy,
    read_bucket,
    tls_only_statement,
)

FLAGS = bucket_policy.PUBLIC_ACCESS_FLAGS
ALL_BLOCKED = dict.fromkeys(FLAGS, True)


def tier(**fields) -> Tier:
    values = {"name": "offsite", "kind": Tier.Kind.S3, "bucket": "lb-bucket", "prefix": "backups/",
              "archive_prefix": "archive/monthly/", "versioning": True, "glacier_after_days": 30,
              "expire_after_days": 90, "noncurrent_expire_days": 14, "object_lock_mode": "",
              "object_lock_days": None}
    return Tier(**(values | fields))


MAIN = {"ID": "lifeboat-offsite", "Status": "Enabled", "Filter": {"Prefix": "backups/"},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}], "Expiration": {"Days": 90},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 14}}
ARCHIVE = {"ID": "lifeboat-offsite-archive", "Status": "Enabled", "Filter": {"Prefix": "archive/monthly/"},
           "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
           "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}


def in_sync(**changes) -> BucketState:
    state = {"versioning": "Enabled", "rules": [dict(MAIN), dict(ARCHIVE)], "object_lock": None,
             "object_lock_enabled": False, "public_access": dict(ALL_BLOCKED),
             "encryption": declared_encryption(tier()), "policy_statements": [tls_only_statement("lb-bucket")]}
    return BucketState(**(state | changes))


class RecordingS3:
    """Answers the bucket reads from `config` (a missing entry is S3's "not configured" error); records puts."""

    def __init__(self, **config) -> None:
        self.config, self.calls = config, []

    def _answer(self, key: str, missing_code: str):
        value = self.config.get(key)
        if isinstance(value, str):
            raise ClientError({"Error": {"Code": value, "Message": "no"}}, key)
        if value is None:
            raise ClientError({"Error": {"Code": missing_code, "Message": "none"}}, key)
        return value

    def get_bucket_versioning(self, Bucket):
        return self.config.get("versioning", {})

    def get_bucket_lifecycle_configuration(self, Bucket):
        return self._answer("lifecycle", "NoSuchLifecycleConfiguration")

    def get_object_lock_configuration(self, Bucket):
        return self._answer("lock", "ObjectLockConfigurationNotFoundError")

    def get_public_access_block(self, Bucket):
        return self._answer("public", "NoSuchPublicAccessBlockConfiguration")

    def get_bucket_encryption(self, Bucket):
        return self._answer("encryption", "ServerSideEncryptionConfigurationNotFoundError")

    def get_bucket_policy(self, Bucket):
        return self._answer("policy", "NoSuchBucketPolicy")

    def __getattr__(self, name):
        if not name.startswith("put_"):
            raise AttributeError(name)
        return lambda **kwargs: self.calls.append((name, kwargs))


# --- what a tier declares -----------------------------------------------------------------------------------------

def test_a_tier_declares_its_main_rule_and_an_archive_rule_that_never_expires():
    assert declared_rules(tier()) == [MAIN, ARCHIVE]


def test_a_tier_without_transitions_expiry_or_archive_declares_only_the_upload_backstop():
    assert declared_rules(tier(glacier_after_days=None, expire_after_days=None, noncurrent_expire_days=None,
                               archive_prefix="")) == [
        {"ID": "lifeboat-offsite", "Status": "Enabled", "Filter": {"Prefix": "backups/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]


def test_the_noncurrent_version_expiry_is_declared_on_its_own():
    (rule,) = declared_rules(tier(glacier_after_days=None, expire_after_days=None, archive_prefix=""))
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 14}
    assert "Expiration" not in rule and "Transitions" not in rule


def test_a_rule_is_described_by_comparable_facts():
    assert describe_rule(MAIN) == {
        "status": "Enabled", "prefix": "'backups/'", "transition to GLACIER": "after 30 days",
        "expiration": "after 90 days", "old versions removed": "after 14 days",
        "unfinished uploads aborted": "after 1 days"}
    assert describe_rule({"Expiration": {"Date": "2030-01-01"}})["expiration"] == "{'Date': '2030-01-01'}"
    assert describe_rule({}) == {"status": "", "prefix": "''"}


@pytest.mark.parametrize(("rule", "prefix"), [
    ({"Filter": {"Prefix": "a/"}}, "'a/'"),
    ({"Filter": {"And": {"Prefix": "b/", "Tags": []}}}, "'b/'"),
    ({"Prefix": "c/"}, "'c/'"),  # the old top-level form
    ({"Filter": {}}, "''"),
])
def test_a_rule_prefix_is_read_from_every_form_s3_returns(rule, prefix):
    assert describe_rule(rule)["prefix"] == prefix


def test_the_iam_policy_is_exactly_the_least_privilege_for_both_prefixes():
    bucket = "arn:aws:s3:::lb-bucket"
    policy = iam_policy(tier())
    assert policy["Version"] == "2012-10-17"
    copies, listing, admin = policy["Statement"]
    # The runtime identity deletes by delete markers only: no s3:DeleteObjectVersion, no bucket-configuration Put.
    assert copies == {"Sid": "LifeboatCopies", "Effect": "Allow", "Action": [
        "s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes",
        "s3:GetObjectVersionAttributes", "s3:DeleteObject", "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts"], "Resource": [f"{bucket}/backups/*", f"{bucket}/archive/monthly/*"]}
    assert listing == {"Sid": "LifeboatListing", "Effect": "Allow",
                       "Action": ["s3:ListBucket", "s3:ListBucketVersions"], "Resource": bucket,
                       "Condition": {"StringLike": {"s3:prefix": ["backups/*", "archive/monthly/*"]}}}
    assert admin == {"Sid": "LifeboatBucketPolicyRead", "Effect": "Allow", "Action": [
        "s3:ListBucketMultipartUploads", "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration",
        "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPublicAccessBlock", "s3:GetEncryptionConfiguration",
        "s3:GetBucketPolicy"], "Resource": bucket}
    assert iam_policy(tier(archive_prefix=""))["Statement"][0]["Resource"] == [f"{bucket}/backups/*"]


# --- reading a live bucket ----------------------------------------------------------------------------------------

def test_a_bucket_never_configured_reads_as_nothing_set():
    state = read_bucket(RecordingS3(), "b")
    assert state == BucketState("", [], None, False, dict.fromkeys(FLAGS, False))


def test_a_configured_bucket_is_read_with_its_lock_retention_in_days():
    client = RecordingS3(
        versioning={"Status": "Enabled"}, lifecycle={"Rules": [MAIN]},
        lock={"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled",
                                          "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 2}}}},
        public={"PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True}})
    state = read_bucket(client, "b")
    assert state.versioning == "Enabled" and state.rules == [MAIN]
    assert state.object_lock == ("COMPLIANCE", 730) and state.object_lock_enabled is True
    assert state.public_access == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
                                   "RestrictPublicBuckets": False}


def test_object_lock_enabled_without_a_default_retention_reads_as_no_retention():
    client = RecordingS3(lock={"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}})
    state = read_bucket(client, "b")
    assert state.object_lock is None and state.object_lock_enabled is True
    client = RecordingS3(lock={"ObjectLockConfiguration": {
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 5}}}})
    assert read_bucket(client, "b").object_lock == ("GOVERNANCE", 5)
    assert read_bucket(client, "b").object_lock_enabled is False


@pytest.mark.parametrize("key", ["lifecycle", "lock", "public"])
def test_any_other_error_reading_the_bucket_is_raised(key):
    with pytest.raises(ClientError):
        read_bucket(RecordingS3(**{key: "AccessDenied"}), "b")


# --- comparing ----------------------------------------------------------------------------------------------------

def test_a_bucket_as_declared_has_no_differences():
    assert differences(tier(), in_sync()) == []
    assert differences(tier(versioning=False), in_sync(versioning="Suspended")) == []


@pytest.mark.parametrize(("declared", "live", "sentence"), [
    (True, "", "versioning is off (never enabled), declared Enabled"),
    (True, "Suspended", "versioning is Suspended, declared Enabled"),
    (False, "Enabled", "versioning is Enabled, declared off"),
])
def test_versioning_drift_is_one_sentence(declared, live, sentence):
    assert differences(tier(versioning=declared), in_sync(versioning=live)) == [sentence]


def test_a_missing_or_changed_lifeboat_rule_is_reported_fact_by_fact():
    changed = dict(MAIN, Expiration={"Days": 30})
    del changed["NoncurrentVersionExpiration"]
    assert differences(tier(), in_sync(rules=[changed])) == [
        "lifecycle rule lifeboat-offsite: expiration is after 30 days, declared after 90 days",
        "lifecycle rule lifeboat-offsite: old versions removed is not set, declared after 14 days",
        "lifecycle rule lifeboat-offsite-archive is missing"]
    extra = dict(ARCHIVE, Expiration={"Days": 5})
    assert differences(tier(), in_sync(rules=[MAIN, extra])) == [
        "lifecycle rule lifeboat-offsite-archive: expiration is after 5 days, declared not set"]


def test_only_an_enabled_foreign_rule_on_lifeboats_prefixes_is_reported():
    foreign = [{"ID": "everything", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}},
               {"ID": "inside", "Status": "Enabled", "Filter": {"Prefix": "archive/monthly/2026"}},
               {"Status": "Enabled", "Filter": {"Prefix": "backups/old/"}},
               {"ID": "elsewhere", "Status": "Enabled", "Filter": {"Prefix": "logs/"}},
               {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "backups/"}}]
    found = differences(tier(), in_sync(rules=[MAIN, ARCHIVE, *foreign]))
    assert found == [
        "lifecycle rule everything is not Lifeboat's but also applies here: status Enabled, prefix '', "
        "expiration after 1 days",
        "lifecycle rule inside is not Lifeboat's but also applies here: status Enabled, prefix 'archive/monthly/2026'",
        "lifecycle rule (no id) is not Lifeboat's but also applies here: status Enabled, prefix 'backups/old/'"]


def test_object_lock_retention_drift_names_both_sides():
    locked = tier(object_lock_mode="COMPLIANCE", object_lock_days=30)
    assert differences(locked, in_sync()) == [
        "Object Lock default retention is not set, declared COMPLIANCE for 30 days"]
    assert differences(locked, in_sync(object_lock=("COMPLIANCE", 7))) == [
        "Object Lock default retention is COMPLIANCE for 7 days, declared COMPLIANCE for 30 days"]
    assert differences(locked, in_sync(object_lock=("COMPLIANCE", 30))) == []
    assert differences(tier(), in_sync(object_lock=("GOVERNANCE", 5))) == [
        "Object Lock default retention is GOVERNANCE for 5 days, declared not set"]


def test_each_public_access_flag_off_is_one_difference():
    public = dict(ALL_BLOCKED, BlockPublicPolicy=False, RestrictPublicBuckets=False)
    assert differences(tier(), in_sync(public_access=public)) == [
        "public access block BlockPublicPolicy is off, declared on",
        "public access block RestrictPublicBuckets is off, declared on"]


# --- applying -----------------------------------------------------------------------------------------------------

def apply(t: Tier, live: BucketState) -> tuple[list[str], list[tuple[str, dict]]]:
    client = RecordingS3()
    actions = bucket_policy._apply(client, t, live)
    return actions, client.calls


def test_applying_to_a_bucket_in_sync_changes_nothing():
    assert apply(tier(), in_sync()) == ([], [])
    assert apply(tier(versioning=False), in_sync(versioning="")) == ([], [])
    assert apply(tier(object_lock_mode="GOVERNANCE", object_lock_days=3),
                 in_sync(object_lock=("GOVERNANCE", 3))) == ([], [])


def test_apply_enables_or_suspends_versioning():
    assert apply(tier(), in_sync(versioning="Suspended")) == (["versioning enabled"], [
        ("put_bucket_versioning", {"Bucket": "lb-bucket", "VersioningConfiguration": {"Status": "Enabled"}})])
    assert apply(tier(versioning=False), in_sync()) == (["versioning suspended"], [
        ("put_bucket_versioning", {"Bucket": "lb-bucket", "VersioningConfiguration": {"Status": "Suspended"}})])


def test_apply_rewrites_a_changed_lifecycle_keeping_foreign_rules_elsewhere():
    elsewhere = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 1}}
    disabled = {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "backups/"}}
    changed = dict(MAIN, Expiration={"Days": 30})
    actions, calls = apply(tier(), in_sync(rules=[elsewhere, changed, disabled, ARCHIVE]))
    assert actions == ["lifecycle rules lifeboat-offsite, lifeboat-offsite-archive set"]
    assert calls == [("put_bucket_lifecycle_configuration", {
        "Bucket": "lb-bucket", "LifecycleConfiguration": {"Rules": [elsewhere, disabled, MAIN, ARCHIVE]}})]


def test_apply_removes_foreign_rules_that_would_expire_backups_and_says_which():
    everything = {"ID": "everything", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
    nameless = {"Status": "Enabled", "Filter": {"Prefix": "archive/"}}
    actions, calls = apply(tier(), in_sync(rules=[MAIN, everything, ARCHIVE, nameless]))
    assert actions == ["lifecycle rules lifeboat-offsite, lifeboat-offsite-archive set; removed everything, (no id) "
                       "(applied to Lifeboat's prefixes)"]
    assert calls == [("put_bucket_lifecycle_configuration", {
        "Bucket": "lb-bucket", "LifecycleConfiguration": {"Rules": [MAIN, ARCHIVE]}})]


def test_apply_blocks_public_access_when_any_flag_is_off():
    actions, calls = apply(tier(), in_sync(public_access=dict(ALL_BLOCKED, IgnorePublicAcls=False)))
    assert actions == ["public access blocked"]
    assert calls == [("put_public_access_block", {"Bucket": "lb-bucket",
                                                  "PublicAccessBlockConfiguration": ALL_BLOCKED})]


def test_apply_sets_the_declared_object_lock_default_retention():
    actions, calls = apply(tier(object_lock_mode="COMPLIANCE", object_lock_days=30),
                           in_sync(object_lock=("GOVERNANCE", 30)))
    assert actions == ["Object Lock default retention COMPLIANCE for 30 days"]
    assert calls == [("put_object_lock_configuration", {"Bucket": "lb-bucket", "ObjectLockConfiguration": {
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}}})]


def test_apply_never_removes_an_object_lock_retention_it_does_not_declare():
    assert apply(tier(), in_sync(object_lock=("COMPLIANCE", 30))) == ([], [])


def test_apply_refuses_a_tier_that_is_not_s3():
    with pytest.raises(StorageError, match="is not an S3 tier"):
        bucket_policy.apply_policy(tier(kind=Tier.Kind.LOCAL))


def test_apply_reports_an_unreachable_bucket_as_a_storage_error(monkeypatch):
    down = RecordingS3(lifecycle="InternalError")
    monkeypatch.setattr(bucket_policy, "client_for", lambda t, service, *profile: down)
    with pytest.raises(StorageError, match="cannot apply the bucket policy to lb-bucket: InternalError"):
        bucket_policy.apply_policy(tier())


def test_applying_records_what_differed_and_what_was_done_in_the_audit_trail(db, monkeypatch):
    from audit.models import AuditEvent

    saved = tier()
    saved.save()
    live = RecordingS3(versioning={"Status": "Enabled"}, lifecycle={"Rules": [MAIN, ARCHIVE]},
                       public={"PublicAccessBlockConfiguration": dict(ALL_BLOCKED, BlockPublicAcls=False)},
                       encryption={"ServerSideEncryptionConfiguration": {"Rules": [declared_encryption(saved)]}},
                       policy={"Policy": json.dumps(declared_policy(saved))})
    monkeypatch.setattr(bucket_policy, "client_for", lambda t, service, *profile: live)
    assert bucket_policy.apply_policy(saved, actor="ops") == ["public access blocked"]
    event = AuditEvent.objects.filter(action="bucket.policy_applied").get()
    assert event.actor == "ops" and event.target_id == str(saved.pk)
    assert event.summary == "bucket policy applied to s3://lb-bucket/backups/: 1 changes"
    assert event.details == {"bucket": "lb-bucket", "actions": ["public access blocked"],
                             "differences_before": ["public access block BlockPublicAcls is off, declared on"]}


def test_a_default_retention_in_days_or_years_or_neither_reads_in_days():
    def lock(retention: dict) -> tuple[str, int] | None:
        client = RecordingS3(lock={"ObjectLockConfiguration": {"Rule": {"DefaultRetention": retention}}})
        return read_bucket(client, "b").object_lock

    assert lock({"Mode": "GOVERNANCE", "Days": 5}) == ("GOVERNANCE", 5)
    assert lock({"Mode": "COMPLIANCE", "Years": 1}) == ("COMPLIANCE", 365)
    assert lock({"Mode": "COMPLIANCE"}) == ("COMPLIANCE", 0)


def test_apply_replaces_lifeboats_own_rule_when_disabled_or_moved_never_keeping_both():
    disabled = dict(MAIN, Status="Disabled")
    moved = dict(ARCHIVE, Filter={"Prefix": "old-archive/"})
    actions, calls = apply(tier(), in_sync(rules=[disabled, moved]))
    assert actions == ["lifecycle rules lifeboat-offsite, lifeboat-offsite-archive set"]
    assert calls == [("put_bucket_lifecycle_configuration", {
        "Bucket": "lb-bucket", "LifecycleConfiguration": {"Rules": [MAIN, ARCHIVE]}})]
