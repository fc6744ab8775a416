"""Artifact.last_verdict: the newest decided verification's outcome as a column, filled from the verifications."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def fill_verdicts(apps, schema_editor):
    Artifact = apps.get_model("backups", "Artifact")
    Verification = apps.get_model("backups", "Verification")
    decided = Verification.objects.filter(artifact=OuterRef("pk"), status__in=("passed", "failed"))
    newest = Subquery(decided.order_by("-created_at", "-pk").values("status")[:1])
    Artifact.objects.update(last_verdict=Coalesce(newest, Value("")))


class Migration(migrations.Migration):
    dependencies = [("backups", "0020_artifact_hash_checked_and_restore_state")]

    operations = [
        migrations.AddField(
            model_name="artifact",
            name="last_verdict",
            field=models.CharField(
                blank=True, default="", editable=False, max_length=10,
                help_text="The newest decided verification's outcome (kept from the verifications)."),
        ),
        migrations.RunPython(fill_verdicts, migrations.RunPython.noop),
    ]
