"""The RDS tier, read through boto3's RDS client (moto in-process): settings, snapshots, freshness, a snapshot."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from backups.models import Tier
from backups.storage import rds
from tests.aws import REGION


@pytest.fixture
def rds_tier(db, aws_env):
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("rds", region_name=REGION)
        client.create_db_instance(DBInstanceIdentifier="dsa-learning", Engine="postgres",
                                  DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="lifeboat",
                                  MasterUserPassword="not-a-secret-1", BackupRetentionPeriod=35,
                                  PreferredBackupWindow="03:00-04:00")
        tier = Tier.objects.get(name="rds")
        tier.rds_instance, tier.enabled = "dsa-learning", True
        tier.save()
        yield tier


def test_reads_retention_window_latest_restorable_time_and_snapshots(rds_tier):
    status = rds.read_status(rds_tier)
    assert status.error == ""
    assert status.retention_days == 35 and status.backup_window == "03:00-04:00"
    assert status.latest_restorable is not None and status.freshness == "ok"
    assert status.snapshots and status.snapshots[0].kind == "automated"
    late = rds.read_status(rds_tier, now=timezone.now() + timedelta(hours=2))
    assert late.freshness == "late"


def test_dba_takes_a_manual_snapshot_and_it_is_audited(rds_tier, client, dba):
    client.force_login(dba)
    response = client.post(f"/backups/tiers/{rds_tier.pk}/rds-snapshot/")
    assert response.status_code == 302
    snapshots = rds.read_status(rds_tier).snapshots
    manual = [s for s in snapshots if s.kind == "manual"]
    assert len(manual) == 1 and manual[0].identifier.startswith("lifeboat-dsa-learning-")
    event = AuditEvent.objects.get(action="rds.snapshot_requested")
    assert event.actor == dba.username and event.details["snapshot"] == manual[0].identifier
    page = client.get(rds_tier.get_absolute_url()).content.decode()
    assert manual[0].identifier in page and "35 days" in page


def test_tier_list_shows_rds_beside_lifeboats_tiers(rds_tier, client, auditor):
    client.force_login(auditor)
    page = client.get("/backups/tiers/").content.decode()
    assert 'data-tier="local"' in page and 'data-tier="rds"' in page and 'data-status="ok"' in page
    assert client.post(f"/backups/tiers/{rds_tier.pk}/rds-snapshot/").status_code == 403


def test_an_unreachable_rds_api_is_shown_not_raised(db, aws_env, settings):
    tier = Tier(name="rds-x", kind=Tier.Kind.RDS, rds_instance="x", region=REGION,
                endpoint_url="http://127.0.0.1:9")  # nothing listens on the discard port
    settings.LIFEBOAT_AWS_MAX_ATTEMPTS = 1
    status = rds.read_status(tier)
    assert status.freshness == "never" and "cannot read RDS instance x" in status.error
