"""The live settings of each S3 tier's bucket (versioning, lifecycle, object lock, public access), read at
export time with the tiers code (backups.storage.bucket_policy), and how they differ from the declared policy.

A bucket that cannot be read is listed in the manifest's `omissions` with the reason, never left out silently.
Reading creates no drift-check row: the export observes, it does not change the record.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from backups.models import Feature, Tier
from backups.storage import aws, bucket_policy
from backups.storage.aws import client_for, error_text


def live_bucket_settings() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(one entry per S3 tier, omissions)."""
    found, omissions = [], []
    for tier in Tier.objects.that_can(Feature.BUCKET_POLICY).order_by("id"):
        try:
            state = bucket_policy.read_bucket(client_for(tier, "s3"), tier.bucket)
        except aws.AWS_ERRORS as exc:
            omissions.append({"item": f"tier_live_config.json: {tier.name}",
                              "reason": f"the live settings of s3://{tier.bucket} could not be read at export "
                                        f"time: {error_text(exc)}"})
            continue
        found.append({"tier": tier.name, "bucket": tier.bucket, "prefix": tier.prefix, "read_at_export": True,
                      **asdict(state), "differences_from_declared": bucket_policy.differences(tier, state),
                      "declared_lifecycle_rules": bucket_policy.declared_rules(tier)})
    return found, omissions
