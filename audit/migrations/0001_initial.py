"""The audit trail moves from the dashboard app to its own app, keeping its tables (no data is copied).

State only: the models are created here and deleted from `dashboard` (dashboard 0006), while the tables,
their rows and the append-only triggers stay exactly as they are. The content types are renamed, not
recreated, so every permission (and each user's or group's grant of it) keeps its id. Schedules whose task
moved with this change are pointed at the new path.
"""

import django.core.serializers.json
import django.utils.timezone
from django.db import migrations, models

MODELS = ("auditevent", "auditchainhead")
# Task paths this change moved: the django-q2 schedules of an existing installation follow them.
MOVED_TASKS = {
    "dashboard.tasks.verify_audit_chain": "audit.tasks.verify_audit_chain",
    "drills.tasks.send_drill_reminders": "alerts.tasks.send_drill_reminders",
}


def rename_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="dashboard", model__in=MODELS).update(app_label="audit")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="audit", model__in=MODELS).update(app_label="dashboard")


def repoint_schedules(apps, schema_editor, moves=MOVED_TASKS):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in moves.items():
        Schedule.objects.filter(func=old).update(func=new)


def unpoint_schedules(apps, schema_editor):
    repoint_schedules(apps, schema_editor, {new: old for old, new in MOVED_TASKS.items()})


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("dashboard", "0005_audit_append_only_triggers"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditChainHead",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("last_hash", models.CharField(default="0" * 64, max_length=64)),
                        ("last_event_id", models.BigIntegerField(blank=True, null=True)),
                        ("count", models.BigIntegerField(default=0)),
                    ],
                    options={"db_table": "dashboard_auditchainhead"},
                ),
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("actor", models.CharField(help_text="Username, or 'system' for scheduled work.",
                                                   max_length=150)),
                        ("action", models.CharField(db_index=True, help_text="e.g. backup.succeeded", max_length=60)),
                        ("target_type", models.CharField(blank=True, max_length=60)),
                        ("target_id", models.CharField(blank=True, max_length=60)),
                        ("summary", models.CharField(max_length=300)),
                        ("details", models.JSONField(blank=True, default=dict,
                                                     encoder=django.core.serializers.json.DjangoJSONEncoder)),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64, unique=True)),
                    ],
                    options={"db_table": "dashboard_auditevent", "ordering": ["id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_types, restore_content_types),
        migrations.RunPython(repoint_schedules, unpoint_schedules),
    ]
