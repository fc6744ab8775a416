"""Evidence exports and samples move from the dashboard app to their own app, keeping their tables.

State only (see audit 0001): content types are renamed, not recreated. The export permission, declared on
the audit event model before, now belongs to EvidenceExport: its row is moved to that content type, keeping
its id and therefore every grant of it. (Exports queued before the upgrade still run: dashboard/tasks.py keeps
the old task path.)
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ("evidenceexport", "evidencesample")


def move_content_types(apps, schema_editor, forward=True):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    old, new = ("dashboard", "evidence") if forward else ("evidence", "dashboard")
    ContentType.objects.filter(app_label=old, model__in=MODELS).update(app_label=new)
    export = ContentType.objects.filter(app_label="evidence", model="evidenceexport").first()
    audit_event = ContentType.objects.filter(app_label="audit", model="auditevent").first()
    if export and audit_event:
        source, target = (audit_event, export) if forward else (export, audit_event)
        Permission.objects.filter(content_type=source, codename="export_evidence").update(content_type=target)


def move_back(apps, schema_editor):
    move_content_types(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("dashboard", "0005_audit_append_only_triggers"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EvidenceExport",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("requested_by_name", models.CharField(help_text="Kept even if the account is deleted.",
                                                               max_length=150)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("since", models.DateField()),
                        ("until", models.DateField(help_text="Inclusive.")),
                        ("databases", models.JSONField(blank=True, default=list,
                                                       help_text="Database names; empty means all.")),
                        ("status", models.CharField(choices=[("queued", "Queued"), ("running", "Running"),
                                                             ("done", "Done"), ("failed", "Failed")],
                                                    default="queued", max_length=10)),
                        ("progress", models.PositiveSmallIntegerField(default=0, help_text="Percent done.")),
                        ("progress_note", models.CharField(blank=True, max_length=200)),
                        ("file_path", models.CharField(blank=True, max_length=1000)),
                        ("size_bytes", models.BigIntegerField(blank=True, null=True)),
                        ("sha256", models.CharField(blank=True, max_length=64)),
                        ("error", models.TextField(blank=True)),
                        ("requested_by", models.ForeignKey(blank=True, null=True,
                                                           on_delete=django.db.models.deletion.SET_NULL,
                                                           related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "dashboard_evidenceexport",
                        "ordering": ["-created_at"],
                        "permissions": [("export_evidence", "Can export the audit evidence package")],
                    },
                ),
                migrations.CreateModel(
                    name="EvidenceSample",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("requested_by_name", models.CharField(max_length=150)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("since", models.DateField()),
                        ("until", models.DateField(help_text="Inclusive.")),
                        ("databases", models.JSONField(blank=True, default=list,
                                                       help_text="Database names; empty means all.")),
                        ("size", models.PositiveIntegerField(help_text="How many samples the auditor asked for.")),
                        ("seed", models.CharField(help_text="Same seed, same population: same samples.",
                                                  max_length=64)),
                        ("population_count", models.PositiveIntegerField()),
                        ("picked_run_ids", models.JSONField(default=list,
                                                            help_text="BackupRun ids, in the order drawn.")),
                        ("requested_by", models.ForeignKey(blank=True, null=True,
                                                           on_delete=django.db.models.deletion.SET_NULL,
                                                           related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "dashboard_evidencesample", "ordering": ["-created_at"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_back),
    ]
