"""Audit events get an HMAC tag column.

Added with a plain ALTER TABLE on every backend: Django's SQLite schema editor would rebuild the table for
this field, and a rebuilt table loses the append-only triggers (dashboard 0005) without a word.
"""

from django.db import migrations, models

TABLE = "dashboard_auditevent"


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="auditevent", name="mac",
                                    field=models.CharField(blank=True, default="", max_length=64)),
            ],
            database_operations=[
                migrations.RunSQL(f"ALTER TABLE {TABLE} ADD COLUMN mac varchar(64) NOT NULL DEFAULT ''",
                                  f"ALTER TABLE {TABLE} DROP COLUMN mac"),
            ],
        ),
    ]
