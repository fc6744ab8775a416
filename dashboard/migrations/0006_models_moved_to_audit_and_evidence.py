"""The audit and evidence models now live in their own apps (audit 0001, evidence 0001); the dashboard app
forgets them in its migration state only. Tables, rows and triggers are untouched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0005_audit_append_only_triggers"),
        ("audit", "0001_initial"),
        ("evidence", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="AuditChainHead"),
                migrations.DeleteModel(name="EvidenceExport"),
                migrations.DeleteModel(name="EvidenceSample"),
            ],
            database_operations=[],
        ),
    ]
