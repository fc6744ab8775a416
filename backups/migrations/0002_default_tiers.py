"""The plan's tier 1: a local directory keeping 7 days (path empty = LIFEBOAT_BACKUP_ROOT)."""

from django.db import migrations


def create_local_tier(apps, schema_editor):
    Tier = apps.get_model("backups", "Tier")
    RetentionPolicy = apps.get_model("backups", "RetentionPolicy")
    tier, created = Tier.objects.get_or_create(name="local", defaults={"kind": "local", "position": 0})
    if created:
        RetentionPolicy.objects.create(tier=tier, keep_days=7, keep_last=3, monthly_months=0)


class Migration(migrations.Migration):
    dependencies = [("backups", "0001_initial")]
    operations = [migrations.RunPython(create_local_tier, migrations.RunPython.noop)]
