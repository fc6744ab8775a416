"""Audit segments: closed runs of events shipped off-host (audit/segments.py)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_event_hmac_tag")]

    operations = [
        migrations.CreateModel(
            name="AuditSegment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200, unique=True)),
                ("first_seq", models.BigIntegerField(help_text="chain position of the first event (1-based)")),
                ("last_seq", models.BigIntegerField(unique=True)),
                ("first_event_id", models.BigIntegerField()),
                ("last_event_id", models.BigIntegerField()),
                ("prev_hash", models.CharField(help_text="the hash the first event follows", max_length=64)),
                ("last_hash", models.CharField(max_length=64)),
                ("events", models.IntegerField()),
                ("sha256", models.CharField(help_text="SHA-256 of the whole object", max_length=64)),
                ("closed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("locations", models.JSONField(blank=True, default=list)),
            ],
            options={"ordering": ["first_seq"]},
        ),
    ]
