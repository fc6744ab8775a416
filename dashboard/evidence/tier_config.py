"""The live settings of each S3 tier's bucket (versioning, lifecycle), read at export time.

Reading them is the tiers work's job (backups/bucket_policy.py). Until that module is part of this
installation, the package says so in `omissions` instead of leaving the live settings out silently.
"""

from __future__ import annotations

import importlib
from typing import Any

from backups.models import Tier

READER = "live_settings"  # backups.bucket_policy.live_settings(tier) -> dict, once the tiers work provides it


def live_bucket_settings() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(one entry per S3 tier, omissions)."""
    tiers = list(Tier.objects.filter(kind=Tier.Kind.S3).order_by("id"))
    if not tiers:
        return [], []
    names = ", ".join(t.name for t in tiers)
    try:
        module = importlib.import_module("backups.bucket_policy")
    except ImportError:
        return [], [{"item": "tier_live_config.json",
                     "reason": f"the live S3 versioning and lifecycle of tier(s) {names} were not read: "
                               "backups.bucket_policy (the tiers work) is not part of this installation; "
                               "tiers.csv holds the declared configuration only"}]
    reader = getattr(module, READER, None)
    if reader is None:
        return [], [{"item": "tier_live_config.json",
                     "reason": f"backups.bucket_policy has no {READER}(tier): live S3 settings of {names} not read"}]
    found, omissions = [], []
    for tier in tiers:
        try:
            found.append({"tier": tier.name, "bucket": tier.bucket, "prefix": tier.prefix, **reader(tier)})
        except Exception as exc:  # an unreachable bucket is itself evidence: say which and why
            omissions.append({"item": f"tier_live_config.json: {tier.name}",
                              "reason": f"reading s3://{tier.bucket} failed: {exc}"})
    return found, omissions
