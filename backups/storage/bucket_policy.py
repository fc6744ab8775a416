"""An S3 tier's bucket policy as configuration: declared on the Tier, applied by `manage.py apply_bucket_policy`,
and compared daily with the live bucket (versioning, lifecycle, Object Lock, public access block, default
encryption, and a bucket policy statement refusing every request not made over TLS).

Only Lifeboat's own lifecycle rules (IDs `lifeboat-<tier>` and `lifeboat-<tier>-archive`) are managed; another
rule is reported, and replaced on apply, only when it also applies to the tier's prefixes, because it could
expire copies that retention means to keep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from audit import trail
from backups.errors import StorageError
from backups.models import BucketDriftCheck, Feature, Tier
from backups.signals import bucket_drift_checked
from backups.storage import aws
from backups.storage.aws import client_for, error_code, error_text

PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
TLS_ONLY_SID = "LifeboatDenyInsecureTransport"


def declared_encryption(tier: Tier) -> dict:
    """Default encryption: SSE-KMS with the tier's customer-managed key, else SSE-S3 (AES256)."""
    if tier.kms_key_id:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": tier.kms_key_id}
        return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}
    return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}


def tls_only_statement(bucket: str) -> dict:
    """Deny every request made without TLS (moto does not evaluate policies: the document itself is tested)."""
    return {"Sid": TLS_ONLY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def declared_policy(tier: Tier, live_statements: list[dict] | None = None) -> dict:
    """The bucket policy document: the live statements that are not Lifeboat's, plus Lifeboat's TLS-only one."""
    others = [s for s in live_statements or [] if s.get("Sid") != TLS_ONLY_SID]
    return {"Version": "2012-10-17", "Statement": [*others, tls_only_statement(tier.bucket)]}


def _describe_encryption(rule: dict | None) -> str:
    if not rule:
        return "off"
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    key = default.get("KMSMasterKeyID")
    return default.get("SSEAlgorithm", "?") + (f" with key {key}" if key else "")


def declared_rules(tier: Tier) -> list[dict]:
    """The lifecycle rules the tier declares, in the shape S3's API takes."""
    main: dict = {"ID": f"lifeboat-{tier.name}", "Status": "Enabled", "Filter": {"Prefix": tier.prefix},
                  # the backstop for uploads whose abort could not reach S3
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    if tier.glacier_after_days is not None:
        main["Transitions"] = [{"Days": tier.glacier_after_days, "StorageClass": "GLACIER"}]
    if tier.expire_after_days is not None:
        main["Expiration"] = {"Days": tier.expire_after_days}
    if tier.noncurrent_expire_days is not None:
        main["NoncurrentVersionExpiration"] = {"NoncurrentDays": tier.noncurrent_expire_days}
    rules = [main]
    if tier.archive_prefix:  # monthly copies: to GLACIER like the rest, never expired
        archive: dict = {"ID": f"lifeboat-{tier.name}-archive", "Status": "Enabled",
                         "Filter": {"Prefix": tier.archive_prefix},
                         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
        if tier.glacier_after_days is not None:
            archive["Transitions"] = [{"Days": tier.glacier_after_days, "StorageClass": "GLACIER"}]
        rules.append(archive)
    return rules


def _rule_prefix(rule: dict) -> str:
    flt = rule.get("Filter", {})
    return flt.get("Prefix", flt.get("And", {}).get("Prefix", rule.get("Prefix", "")))


def describe_rule(rule: dict) -> dict[str, str]:
    """A rule reduced to comparable, readable facts."""
    facts = {"status": rule.get("Status", ""), "prefix": repr(_rule_prefix(rule))}
    for t in rule.get("Transitions", []):
        facts[f"transition to {t.get('StorageClass')}"] = f"after {t.get('Days')} days"
    if "Expiration" in rule:
        exp = rule["Expiration"]
        facts["expiration"] = f"after {exp['Days']} days" if "Days" in exp else str(exp)
    if "NoncurrentVersionExpiration" in rule:
        facts["old versions removed"] = f"after {rule['NoncurrentVersionExpiration'].get('NoncurrentDays')} days"
    if "AbortIncompleteMultipartUpload" in rule:
        facts["unfinished uploads aborted"] = (
            f"after {rule['AbortIncompleteMultipartUpload'].get('DaysAfterInitiation')} days")
    return facts


@dataclass(frozen=True)
class BucketState:
    versioning: str  # "Enabled", "Suspended" or "" (never enabled)
    rules: list[dict]
    object_lock: tuple[str, int] | None  # default retention (mode, days)
    object_lock_enabled: bool
    public_access: dict[str, bool]
    encryption: dict | None = None  # the first default-encryption rule, None when none is set
    policy_statements: list[dict] = field(default_factory=list)


def read_bucket(client, bucket: str) -> BucketState:
    versioning = client.get_bucket_versioning(Bucket=bucket).get("Status", "")
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except aws.AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    lock, lock_enabled = None, False
    try:
        config = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
        lock_enabled = config.get("ObjectLockEnabled") == "Enabled"
        retention = config.get("Rule", {}).get("DefaultRetention")
        if retention:
            lock = (retention["Mode"], retention.get("Days") or retention.get("Years", 0) * 365)
    except aws.AWS_ERRORS as exc:
        if error_code(exc) != "ObjectLockConfigurationNotFoundError":
            raise
    try:
        public = client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except aws.AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        public = {}
    return BucketState(versioning, rules, lock, lock_enabled, {f: bool(public.get(f)) for f in PUBLIC_ACCESS_FLAGS},
                       _read_encryption(client, bucket), _read_policy_statements(client, bucket))


def _read_encryption(client, bucket: str) -> dict | None:
    try:
        rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"].get("Rules", [])
    except aws.AWS_ERRORS as exc:
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        return None
    return rules[0] if rules else None


def _read_policy_statements(client, bucket: str) -> list[dict]:
    try:
        document = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    except aws.AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            raise
        return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _same_statement(have: dict, want: dict) -> bool:
    """Equal as S3 means it: a one-item list equals its item, order of resources does not matter."""
    def norm(value):
        if isinstance(value, list):
            items = sorted((norm(v) for v in value), key=json.dumps)
            return items[0] if len(items) == 1 else items
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value
    return norm(have) == norm(want)


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def differences(tier: Tier, live: BucketState) -> list[str]:
    """Every way the live bucket differs from what the tier declares, one sentence each."""
    found = []
    if tier.versioning and live.versioning != "Enabled":
        found.append(f"versioning is {live.versioning or 'off (never enabled)'}, declared Enabled")
    if not tier.versioning and live.versioning == "Enabled":
        found.append("versioning is Enabled, declared off")
    declared = {r["ID"]: r for r in declared_rules(tier)}
    live_by_id = {r.get("ID", ""): r for r in live.rules}
    for rule_id, rule in declared.items():
        if rule_id not in live_by_id:
            found.append(f"lifecycle rule {rule_id} is missing")
            continue
        want, have = describe_rule(rule), describe_rule(live_by_id[rule_id])
        for key in sorted(set(want) | set(have)):
            if want.get(key) != have.get(key):
                found.append(f"lifecycle rule {rule_id}: {key} is {have.get(key, 'not set')}, "
                             f"declared {want.get(key, 'not set')}")
    ours = [tier.prefix] + ([tier.archive_prefix] if tier.archive_prefix else [])
    for rule_id, rule in live_by_id.items():
        if rule_id not in declared and rule.get("Status") == "Enabled" and any(
                _overlaps(_rule_prefix(rule), p) for p in ours):
            facts = ", ".join(f"{k} {v}" for k, v in describe_rule(rule).items())
            found.append(f"lifecycle rule {rule_id or '(no id)'} is not Lifeboat's but also applies here: {facts}")
    want_lock = (tier.object_lock_mode, tier.object_lock_days) if tier.object_lock_mode else None
    if want_lock != live.object_lock:
        have = f"{live.object_lock[0]} for {live.object_lock[1]} days" if live.object_lock else "not set"
        want = f"{want_lock[0]} for {want_lock[1]} days" if want_lock else "not set"
        found.append(f"Object Lock default retention is {have}, declared {want}")
    for flag, on in live.public_access.items():
        if not on:
            found.append(f"public access block {flag} is off, declared on")
    want_encryption, have_encryption = (_describe_encryption(declared_encryption(tier)),
                                        _describe_encryption(live.encryption))
    if want_encryption != have_encryption:
        found.append(f"default encryption is {have_encryption}, declared {want_encryption}")
    ours = [s for s in live.policy_statements if s.get("Sid") == TLS_ONLY_SID]
    if not ours:
        found.append("the bucket policy does not deny requests without TLS (aws:SecureTransport false)")
    elif not _same_statement(ours[0], tls_only_statement(tier.bucket)):
        found.append(f"the bucket policy statement {TLS_ONLY_SID} differs from the declared one")
    return found


def refuse_disabled(tier: Tier) -> None:
    """A disabled tier is inert (often a placeholder whose bucket does not exist yet): nothing is checked or changed."""
    if not tier.enabled:
        raise StorageError(f"tier {tier.name} is disabled: enable it in the admin first")


def check_drift(tier: Tier) -> BucketDriftCheck:
    """Compare the live bucket with the declaration, record the result as a row, and announce it."""
    refuse_disabled(tier)
    try:
        found = differences(tier, read_bucket(client_for(tier, "s3"), tier.bucket))
        check = BucketDriftCheck.objects.create(tier=tier, differences=found)
    except aws.AWS_ERRORS as exc:
        error = f"cannot read bucket {tier.bucket}: {error_text(exc)}"
        check = BucketDriftCheck.objects.create(tier=tier, differences=[error], error=error)
    bucket_drift_checked.send(sender=Tier, tier=tier, differences=list(check.differences))
    return check


def apply_policy(tier: Tier, actor=None, profile: str = "") -> list[str]:
    """Make the live bucket match the declaration; returns what was changed. Audited.

    Needs the admin identity (`admin_iam_policy`, e.g. `--profile`): the runtime identity may not change
    versioning, lifecycle, Object Lock, encryption or the bucket policy."""
    if not tier.can(Feature.BUCKET_POLICY):
        raise StorageError(f"tier {tier} is not an S3 tier")
    refuse_disabled(tier)
    client = client_for(tier, "s3", profile)
    bucket = tier.bucket
    try:
        live = read_bucket(client, bucket)
        before = differences(tier, live)
        actions = _apply(client, tier, live)
    except aws.AWS_ERRORS as exc:
        if error_code(exc) == "AccessDenied":
            raise StorageError(f"cannot apply the bucket policy to {bucket}: this identity may not change the "
                               f"bucket's configuration (by design for the runtime identity); run "
                               f"`manage.py apply_bucket_policy {tier.name} --profile ADMIN` as the admin identity, "
                               "or hand the policy shown on the tier page to the operator") from None
        raise StorageError(f"cannot apply the bucket policy to {bucket}: {error_text(exc)}") from None
    trail.record("bucket.policy_applied", actor=actor, target=tier,
                 summary=f"bucket policy applied to s3://{bucket}/{tier.prefix}: {len(actions)} changes",
                 details={"bucket": bucket, "differences_before": before, "actions": actions})
    return actions


def _apply(client, tier: Tier, live: BucketState) -> list[str]:
    bucket, actions = tier.bucket, []
    if tier.versioning and live.versioning != "Enabled":
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        actions.append("versioning enabled")
    elif not tier.versioning and live.versioning == "Enabled":
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
        actions.append("versioning suspended")
    declared = declared_rules(tier)
    ours = [tier.prefix] + ([tier.archive_prefix] if tier.archive_prefix else [])
    declared_ids = {r["ID"] for r in declared}
    kept = [r for r in live.rules if r.get("ID") not in declared_ids
            and not (r.get("Status") == "Enabled" and any(_overlaps(_rule_prefix(r), p) for p in ours))]
    dropped = [r.get("ID", "(no id)") for r in live.rules if r not in kept and r.get("ID") not in declared_ids]
    live_ours = {r.get("ID"): describe_rule(r) for r in live.rules if r.get("ID") in declared_ids}
    if dropped or any(live_ours.get(r["ID"]) != describe_rule(r) for r in declared):
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": kept + declared})
        actions.append("lifecycle rules " + ", ".join(sorted(declared_ids)) + " set"
                       + (f"; removed {', '.join(dropped)} (applied to Lifeboat's prefixes)" if dropped else ""))
    if not all(live.public_access.values()):
        client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            f: True for f in PUBLIC_ACCESS_FLAGS})
        actions.append("public access blocked")
    want_lock = (tier.object_lock_mode, tier.object_lock_days) if tier.object_lock_mode else None
    if want_lock and want_lock != live.object_lock:
        client.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": want_lock[0], "Days": want_lock[1]}}})
        actions.append(f"Object Lock default retention {want_lock[0]} for {want_lock[1]} days")
    if _describe_encryption(live.encryption) != _describe_encryption(declared_encryption(tier)):
        client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [declared_encryption(tier)]})
        actions.append(f"default encryption {_describe_encryption(declared_encryption(tier))}")
    ours = [s for s in live.policy_statements if s.get("Sid") == TLS_ONLY_SID]
    if not (ours and _same_statement(ours[0], tls_only_statement(bucket))):
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(declared_policy(tier, live.policy_statements)))
        actions.append("bucket policy denies requests without TLS")
    return actions


READ_BUCKET_CONFIG = ["s3:ListBucketMultipartUploads", "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration",
                      "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPublicAccessBlock",
                      "s3:GetEncryptionConfiguration", "s3:GetBucketPolicy"]
WRITE_BUCKET_CONFIG = ["s3:PutBucketVersioning", "s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration",
                       "s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration", "s3:PutBucketPolicy"]


def iam_policy(tier: Tier) -> dict:
    """The least privilege the runtime (web and worker) identity needs, scoped to the bucket and prefixes.

    It deletes only by delete markers (no s3:DeleteObjectVersion) and may read, never change, the bucket's
    configuration: a compromised host can neither wipe the history nor shorten the lifecycle's grace period.
    """
    bucket_arn = f"arn:aws:s3:::{tier.bucket}"
    prefixes = [tier.prefix] + ([tier.archive_prefix] if tier.archive_prefix else [])
    statements = [
        {"Sid": "LifeboatCopies", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes",
                    "s3:GetObjectVersionAttributes", "s3:DeleteObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": [f"{bucket_arn}/{p}*" for p in prefixes]},
        {"Sid": "LifeboatListing", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
         "Resource": bucket_arn, "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}},
        {"Sid": "LifeboatBucketPolicyRead", "Effect": "Allow", "Action": READ_BUCKET_CONFIG, "Resource": bucket_arn},
    ]
    if tier.kms_key_id:  # SSE-KMS uploads and reads use the customer-managed key
        statements.append({"Sid": "LifeboatKmsKey", "Effect": "Allow",
                           "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": tier.kms_key_id})
    return {"Version": "2012-10-17", "Statement": statements}


def admin_iam_policy(tier: Tier) -> dict:
    """The separate admin identity that applies the declared configuration (`apply_bucket_policy --profile`)."""
    bucket_arn = f"arn:aws:s3:::{tier.bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "LifeboatBucketPolicyAdmin", "Effect": "Allow", "Action": READ_BUCKET_CONFIG + WRITE_BUCKET_CONFIG,
         "Resource": bucket_arn}]}
