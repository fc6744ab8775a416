"""The RDS tier: AWS's own automated backups, read (never enforced) through boto3's RDS client.

Freshness comes from the instance's latest restorable time: RDS ships transaction logs about every five minutes,
so a latest restorable time that falls far behind means point-in-time recovery would lose that much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from audit import trail
from backups.errors import StorageError
from backups.models import Feature, Freshness, Tier
from backups.storage import aws
from backups.storage.aws import client_for, error_text

DUE_AFTER = timedelta(minutes=15)
LATE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class RdsSnapshot:
    identifier: str
    kind: str  # automated / manual
    created_at: datetime | None
    status: str
    size_gb: int | None


@dataclass
class RdsStatus:
    tier: Tier
    instance: str
    retention_days: int | None = None
    backup_window: str = ""
    latest_restorable: datetime | None = None
    instance_status: str = ""
    snapshots: list[RdsSnapshot] = field(default_factory=list)
    error: str = ""
    now: datetime = field(default_factory=timezone.now)

    @property
    def lag(self) -> timedelta | None:
        return self.now - self.latest_restorable if self.latest_restorable else None

    @property
    def freshness(self) -> str:
        """ok / due / late / never, like Database.freshness, from the latest restorable time."""
        if self.error or not self.retention_days or self.lag is None:
            return Freshness.NEVER
        if self.lag > LATE_AFTER:
            return Freshness.LATE
        return Freshness.DUE if self.lag > DUE_AFTER else Freshness.OK

    @property
    def freshness_label(self) -> str:
        return Freshness(self.freshness).label


def read_status(tier: Tier, now: datetime | None = None) -> RdsStatus:
    """The instance's backup settings and its snapshots; an unreachable API is reported, not raised."""
    status = RdsStatus(tier=tier, instance=tier.rds_instance, now=now or timezone.now())
    try:
        client = client_for(tier, "rds")
        instance = client.describe_db_instances(DBInstanceIdentifier=tier.rds_instance)["DBInstances"][0]
        snapshots = []
        for page in client.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=tier.rds_instance):
            snapshots.extend(page.get("DBSnapshots", []))
    except aws.AWS_ERRORS as exc:
        status.error = f"cannot read RDS instance {tier.rds_instance}: {error_text(exc)}"
        return status
    status.retention_days = instance.get("BackupRetentionPeriod")
    status.backup_window = instance.get("PreferredBackupWindow", "")
    status.latest_restorable = instance.get("LatestRestorableTime")
    status.instance_status = instance.get("DBInstanceStatus", "")
    status.snapshots = sorted(
        (RdsSnapshot(s["DBSnapshotIdentifier"], s.get("SnapshotType", ""), s.get("SnapshotCreateTime"),
                     s.get("Status", ""), s.get("AllocatedStorage")) for s in snapshots),
        key=lambda s: s.created_at or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
    return status


def take_snapshot(tier: Tier, actor=None, now: datetime | None = None) -> str:
    """Start a manual snapshot (RDS takes it in the background); returns its identifier. Audited."""
    if not tier.can(Feature.PROVIDER_BACKUPS):
        raise StorageError(f"tier {tier} is not an RDS tier")
    if not tier.enabled:
        raise StorageError(f"tier {tier.name} is disabled: enable it in the admin first")
    identifier = f"lifeboat-{tier.rds_instance}-{(now or timezone.now()):%Y%m%d-%H%M%S}"
    try:
        client_for(tier, "rds").create_db_snapshot(
            DBInstanceIdentifier=tier.rds_instance, DBSnapshotIdentifier=identifier,
            Tags=[{"Key": "created-by", "Value": "lifeboat"},
                  {"Key": "requested-by", "Value": trail.actor_name(actor)}])
    except aws.AWS_ERRORS as exc:
        raise StorageError(f"cannot snapshot RDS instance {tier.rds_instance}: {error_text(exc)}") from None
    trail.record("rds.snapshot_requested", actor=actor, target=tier,
                 summary=f"manual snapshot {identifier} of RDS instance {tier.rds_instance} requested",
                 details={"instance": tier.rds_instance, "snapshot": identifier, "region": tier.region})
    return identifier
