"""Where copies live (local directory, S3 bucket and prefix, RDS instance) and how long they stay."""

from __future__ import annotations

import enum
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from backups.models.common import name_validator


class Feature(enum.Flag):
    """What a tier's storage can do, as pgBackRest's StorageFeature: code asks `tier.can(Feature.X)`, not its kind.

    Declared per kind in `Tier.FEATURES`, so asking never builds a client or imports a cloud SDK.
    """

    ARTIFACTS = enum.auto()  # holds Lifeboat's own artifacts: backups write there; verify, restore, retention read
    LOCAL_PATH = enum.auto()  # a copy is a file on this host, opened in place (nearest to read, can stage a dump)
    REMOTE = enum.auto()  # off this host
    VERSIONS = enum.auto()  # object versions: a delete leaves a noncurrent version behind
    BUCKET_POLICY = enum.auto()  # declared lifecycle, versioning and Object Lock, applied and checked for drift
    STORAGE_CLASSES = enum.auto()  # copies are stored in a chosen storage class
    ARCHIVE_PREFIX = enum.auto()  # monthly copies can move to a prefix the lifecycle never expires
    PROVIDER_BACKUPS = enum.auto()  # backups made and kept by the provider (RDS): status read, snapshots requested


class TierQuerySet(models.QuerySet):
    def that_can(self, feature: Feature) -> TierQuerySet:
        """Tiers whose kind has every one of `feature`'s capabilities."""
        return self.filter(kind__in=[kind for kind, has in Tier.FEATURES.items() if feature in has])


class Tier(models.Model):
    """Where copies live: a local directory, an S3 bucket and prefix, or an RDS instance (read only)."""

    class Kind(models.TextChoices):
        LOCAL = "local", "Local directory"
        S3 = "s3", "Amazon S3"
        RDS = "rds", "AWS RDS automated backups"

    FEATURES: dict[str, Feature] = {
        Kind.LOCAL: Feature.ARTIFACTS | Feature.LOCAL_PATH,
        Kind.S3: (Feature.ARTIFACTS | Feature.REMOTE | Feature.VERSIONS | Feature.BUCKET_POLICY
                  | Feature.STORAGE_CLASSES | Feature.ARCHIVE_PREFIX),
        Kind.RDS: Feature.REMOTE | Feature.PROVIDER_BACKUPS,
    }

    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    kind = models.CharField(max_length=10, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Display order on the overview.")
    require_verified = models.BooleanField(
        "freshness needs verification", default=False,
        help_text="When on, only verified copies count towards this tier's freshness.",
    )
    # local
    path = models.CharField(
        max_length=500, blank=True, help_text="Local directory; empty means LIFEBOAT_BACKUP_ROOT."
    )
    # s3
    bucket = models.CharField(max_length=63, blank=True)
    prefix = models.CharField(max_length=200, blank=True, default="backups/")
    region = models.CharField(max_length=30, blank=True, default="us-east-1")
    endpoint_url = models.CharField(max_length=300, blank=True, help_text="For S3-compatible stores.")
    storage_class = models.CharField(max_length=30, blank=True, default="STANDARD_IA")
    # rds
    rds_instance = models.CharField("RDS instance identifier", max_length=63, blank=True)
    # s3 bucket policy, declared here, applied by `manage.py apply_bucket_policy`, compared daily (drift)
    versioning = models.BooleanField("bucket versioning", default=True)
    glacier_after_days = models.PositiveIntegerField(
        "move to GLACIER after (days)", null=True, blank=True, help_text="Lifecycle transition on the prefix.")
    expire_after_days = models.PositiveIntegerField(
        "expire after (days)", null=True, blank=True,
        help_text="Lifecycle expiration on the prefix: a backstop behind retention, which deletes first.")
    noncurrent_expire_days = models.PositiveIntegerField(
        "remove old versions after (days)", null=True, blank=True,
        help_text="Versioned buckets keep a deleted object's old version; remove it this long after.")
    object_lock_mode = models.CharField(
        max_length=12, blank=True, choices=[("GOVERNANCE", "Governance"), ("COMPLIANCE", "Compliance")],
        help_text="Object Lock default retention (the bucket must have Object Lock enabled).")
    object_lock_days = models.PositiveIntegerField(null=True, blank=True)
    archive_prefix = models.CharField(
        max_length=200, blank=True,
        help_text="Monthly copies move here, outside the lifecycle's prefix, so the lifecycle never expires them.")

    objects = TierQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("backups:tier_detail", args=[self.pk])

    @property
    def features(self) -> Feature:
        return self.FEATURES.get(self.kind, Feature(0))

    def can(self, feature: Feature) -> bool:
        """True when this tier's storage has every capability in `feature`."""
        return feature in self.features

    @property
    def capabilities(self) -> dict[str, bool]:
        """Every feature by name, for templates (which cannot pass an argument): `tier.capabilities.VERSIONS`."""
        return {feature.name: feature in self.features for feature in Feature}

    @property
    def nearness(self) -> tuple[bool, int]:
        """Sort key for choosing a copy to read: copies on this host first, then by display position."""
        return (not self.can(Feature.LOCAL_PATH), self.position)

    def clean(self) -> None:
        if self.kind == self.Kind.S3 and not self.bucket:
            raise ValidationError({"bucket": "An S3 tier needs a bucket."})
        if self.kind == self.Kind.RDS and not self.rds_instance:
            raise ValidationError({"rds_instance": "An RDS tier needs an instance identifier."})
        if self.archive_prefix and (not self.prefix or self.archive_prefix.startswith(self.prefix)
                                    or self.prefix.startswith(self.archive_prefix)):
            raise ValidationError({"archive_prefix": "The archive prefix must not overlap the tier's prefix, "
                                                     "or the lifecycle rule would expire monthly copies."})
        if bool(self.object_lock_mode) != bool(self.object_lock_days):
            raise ValidationError({"object_lock_days": "Object Lock needs both a mode and a number of days."})

    @property
    def where(self) -> str:
        if self.kind == self.Kind.S3:
            return f"s3://{self.bucket}/{self.prefix}"
        if self.kind == self.Kind.RDS:
            return f"rds:{self.rds_instance} ({self.region})"
        return str(self.local_root)

    @property
    def local_root(self) -> Path:
        return Path(self.path) if self.path else Path(settings.LIFEBOAT_BACKUP_ROOT)


class RetentionPolicy(models.Model):
    """How long a tier keeps copies. The planner in retention.py reads it; it never deletes by itself."""

    tier = models.OneToOneField(Tier, on_delete=models.CASCADE, related_name="retention")
    keep_days = models.PositiveIntegerField(default=7, help_text="Keep every copy younger than this.")
    keep_last = models.PositiveIntegerField(
        default=3, help_text="Always keep at least this many newest good copies per database."
    )
    monthly_months = models.PositiveIntegerField(
        default=0, help_text="Keep the first copy of each month for this many months (0: none)."
    )
    monthly_forever = models.BooleanField(default=False, help_text="Keep the first copy of every month forever.")
    legal_hold = models.BooleanField(default=False, help_text="Delete nothing in this tier while set.")

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        monthly = "forever" if self.monthly_forever else f"{self.monthly_months} months"
        return f"{self.tier}: {self.keep_days} days, last {self.keep_last}, monthly {monthly}"


class BucketDriftCheck(models.Model):
    """One comparison of an S3 tier's live bucket with its declared policy (a row per check, like a Flip)."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="drift_checks")
    checked_at = models.DateTimeField(default=timezone.now)
    differences = models.JSONField(default=list, blank=True, help_text="One sentence per difference.")
    error = models.TextField(blank=True, help_text="Why the bucket could not be read.")

    class Meta:
        ordering = ["-checked_at"]
        indexes = [
            # Tier page: the newest check of a tier.
            models.Index(fields=["tier", "-checked_at"], name="driftcheck_tier_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tier} checked {self.checked_at:%Y-%m-%d %H:%M}: {self.status}"

    @property
    def status(self) -> str:
        if self.error:
            return "unreadable"
        return "drift" if self.differences else "in sync"
