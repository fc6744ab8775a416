"""`--tier NAME` plus where a tier unknown to this (perhaps brand-new) dashboard lives: --path or --bucket."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DatabaseError

from backups.models import Feature, Tier


def add_tier_arguments(parser) -> None:
    parser.add_argument("--tier", required=True, help="tier name (created with --path or --bucket if unknown)")
    parser.add_argument("--path", default=None, help="directory of a local tier this dashboard does not know yet")
    parser.add_argument("--bucket", default=None, help="bucket of an S3 tier this dashboard does not know yet")
    parser.add_argument("--prefix", default="backups/", help="S3 key prefix (with --bucket)")
    parser.add_argument("--region", default="us-east-1", help="S3 region (with --bucket)")
    parser.add_argument("--endpoint-url", default="", help="S3-compatible endpoint (with --bucket)")


def tier_from_options(options: dict, *, save: bool) -> tuple[Tier, bool]:
    """The named tier; when unknown, one described by --path/--bucket (saved only when `save`)."""
    name, path, bucket = options["tier"], options.get("path"), options.get("bucket")
    try:
        tier = Tier.objects.filter(name=name).first()
    except DatabaseError:  # an empty database about to receive a self-backup: only --path/--bucket can say
        if save or not (path or bucket):
            raise CommandError("this dashboard's database has no tables yet: run migrate, "
                               "or give the tier's --path or --bucket") from None
        tier = None
    if tier is not None:
        where = str(tier.local_root) if tier.can(Feature.LOCAL_PATH) else tier.bucket
        if (path and where != path) or (bucket and where != bucket):
            raise CommandError(f"tier {name} already exists and points elsewhere ({where}); "
                               "drop --path/--bucket or choose another tier name")
        return tier, False
    if path and bucket:
        raise CommandError("give either --path or --bucket, not both")
    if path:
        tier = Tier(name=name, kind=Tier.Kind.LOCAL, path=path)
    elif bucket:
        tier = Tier(name=name, kind=Tier.Kind.S3, bucket=bucket, prefix=options.get("prefix") or "",
                    region=options.get("region") or "", endpoint_url=options.get("endpoint_url") or "")
    else:
        known = ", ".join(Tier.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"unknown tier {name!r}; known: {known} (or point at one with --path DIR or --bucket NAME)")
    if save:
        tier.full_clean()
        tier.save()
    return tier, True
