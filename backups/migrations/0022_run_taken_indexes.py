"""The tier page at any size: indexes on when a run's copies were taken as retention sees it
(COALESCE(started_at, created_at)), per database and overall, which the retention preview walks with LIMIT instead
of sorting every copy of the tier; and the live-copy index with the copies' hold, run and size, so the preview's
counts and a tier's live copies and bytes are read off the index alone."""

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Coalesce


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0021_artifact_verdict_column"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="backuprun",
            index=models.Index(models.F("database"), Coalesce("started_at", "created_at"), name="run_db_taken_idx"),
        ),
        migrations.AddIndex(
            model_name="backuprun",
            index=models.Index(Coalesce("started_at", "created_at"), name="run_taken_idx"),
        ),
        migrations.RemoveIndex(model_name="artifact", name="artifact_tier_live_idx"),
        migrations.AddIndex(
            model_name="artifact",
            index=models.Index(fields=["tier", "status", "deleted_at", "legal_hold", "run", "size_bytes"],
                               name="artifact_tier_live_idx"),
        ),
    ]
