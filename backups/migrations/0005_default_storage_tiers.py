"""The plan's other tiers, created disabled so Lifeboat works with no AWS at all until an admin configures them:
S3 (90 days, GLACIER after 30, one copy a month archived forever) and RDS (35 days: read, never enforced).
Enabling the S3 tier means setting a real bucket in the admin and running `manage.py apply_bucket_policy s3`.
"""

from django.db import migrations


def create_tiers(apps, schema_editor):
    Tier = apps.get_model("backups", "Tier")
    RetentionPolicy = apps.get_model("backups", "RetentionPolicy")
    s3, created = Tier.objects.get_or_create(name="s3", defaults=dict(
        kind="s3", enabled=False, position=1, bucket="change-me-lifeboat-backups", prefix="backups/",
        region="us-east-1", storage_class="STANDARD_IA", versioning=True, glacier_after_days=30,
        expire_after_days=90, noncurrent_expire_days=7, archive_prefix="archive/monthly/"))
    if created:
        RetentionPolicy.objects.create(tier=s3, keep_days=90, keep_last=3, monthly_forever=True)
    rds, created = Tier.objects.get_or_create(name="rds", defaults=dict(
        kind="rds", enabled=False, position=2, rds_instance="change-me-rds-instance", region="us-east-1"))
    if created:
        RetentionPolicy.objects.create(tier=rds, keep_days=35, keep_last=0)


class Migration(migrations.Migration):
    dependencies = [("backups", "0004_tier_policy")]
    operations = [migrations.RunPython(create_tiers, migrations.RunPython.noop)]
