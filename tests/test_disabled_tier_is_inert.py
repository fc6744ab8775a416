"""A disabled tier is inert: no action buttons, no checks, no alerts; it says it is disabled."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from alerts import engine
from alerts.models import Alert, Kind
from backups.models import Artifact, BackupRun, BucketDriftCheck, Database, Tier, Verification
from backups.signals import bucket_drift_checked


def placeholder_s3(enabled: bool = False) -> Tier:
    return Tier.objects.create(name="s3-later", kind=Tier.Kind.S3, bucket="not-yet-created", enabled=enabled)


def test_check_now_on_a_disabled_tier_checks_nothing_and_alerts_nothing(client, dba):
    tier = placeholder_s3()
    client.force_login(dba)

    response = client.post(reverse("backups:check_drift", args=[tier.pk]), follow=True)

    assert "disabled" in response.content.decode()
    assert not BucketDriftCheck.objects.filter(tier=tier).exists()
    assert not Alert.objects.open().filter(kind=Kind.BUCKET_DRIFT).exists()


def test_a_disabled_tier_page_has_no_action_buttons(client, dba):
    tier = placeholder_s3()
    client.force_login(dba)

    page = client.get(reverse("backups:tier_detail", args=[tier.pk])).content.decode()

    assert "Disabled" in page
    for button in ("Check now", "Apply bucket policy", "Apply retention now"):
        assert button not in page
    for name in ("check_drift", "apply_bucket_policy", "apply_retention"):
        assert client.post(reverse(f"backups:{name}", args=[tier.pk])).status_code in (302, 303, 200)
    assert not BucketDriftCheck.objects.filter(tier=tier).exists()


def test_alert_rules_skip_disabled_tiers(db):
    tier = placeholder_s3(enabled=True)
    bucket_drift_checked.send(sender=Tier, tier=tier, differences=["bucket not-yet-created does not exist"])
    database = Database.objects.create(name="orders", dbname="orders")
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, started_at=timezone.now())
    copy = Artifact.objects.create(run=run, tier=tier, location="k", sha256="0" * 64)
    Verification.objects.create(artifact=copy, status=Verification.Status.FAILED)
    Artifact.objects.create(run=run, tier=Tier.objects.create(name="nas", path="/nas", enabled=False),
                            location="k", status=Artifact.Status.FAILED, error="mount gone")
    engine.evaluate(timezone.now())
    assert Alert.objects.open().filter(kind=Kind.BUCKET_DRIFT).exists()

    Tier.objects.filter(pk=tier.pk).update(enabled=False)
    engine.evaluate(timezone.now())

    open_kinds = set(Alert.objects.open().values_list("kind", flat=True))
    assert not open_kinds & {Kind.BUCKET_DRIFT, Kind.VERIFICATION_FAILED, Kind.UPLOAD_FAILED}
