"""Catalog: a stable backup UUID per run (in every manifest), the manifest's location, auto-discovery servers.

The UUID is added nullable, filled for existing runs, then made unique (a callable default gives every
existing row the same value otherwise)."""

import backups.models
import django.core.validators
import django.db.models.deletion
import uuid
from django.db import migrations, models


def fill_backup_uuids(apps, schema_editor):
    BackupRun = apps.get_model("backups", "BackupRun")
    for run in BackupRun.objects.filter(backup_uuid__isnull=True).only("pk"):
        BackupRun.objects.filter(pk=run.pk).update(backup_uuid=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ('backups', '0006_history_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='Server',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=40, unique=True, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', "Use letters, digits, '_', '.' or '-' (no spaces or shell characters), up to 63 characters.")])),
                ('host', models.CharField(default='127.0.0.1', max_length=255)),
                ('port', models.PositiveIntegerField(default=5432)),
                ('user', models.CharField(default='postgres', max_length=63)),
                ('password_env', models.CharField(blank=True, help_text='Name of the environment variable holding the password; the password is never stored.', max_length=100, validators=[django.core.validators.RegexValidator('^[A-Za-z_][A-Za-z0-9_]*$', 'An environment variable name, e.g. PROD_PG_PASSWORD.')], verbose_name='password environment variable')),
                ('passfile', models.CharField(blank=True, max_length=500, verbose_name='pgpass file')),
                ('discover', models.BooleanField(default=True, verbose_name='auto-discover databases')),
                ('exclude', models.TextField(blank=True, default='postgres', help_text='Database names not to protect, one per line or comma-separated; shell patterns (rds*) allowed.')),
                ('rpo_hours', models.PositiveIntegerField(default=24, validators=[django.core.validators.MinValueValidator(1)], verbose_name='RPO of discovered databases (hours)')),
                ('schedule', models.CharField(default='0 2 * * *', help_text='Cron, in UTC.', max_length=100, validators=[backups.models.validate_cron], verbose_name='schedule of discovered databases')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='artifact',
            name='manifest_location',
            field=models.CharField(blank=True, help_text='The sidecar <name>.json.', max_length=1000),
        ),
        migrations.AddField(
            model_name='backuprun',
            name='backup_uuid',
            field=models.UUIDField(default=uuid.uuid4, editable=False, null=True, verbose_name='backup UUID'),
        ),
        migrations.RunPython(fill_backup_uuids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='backuprun',
            name='backup_uuid',
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name='backup UUID'),
        ),
        migrations.AddField(
            model_name='database',
            name='server',
            field=models.ForeignKey(blank=True, help_text='Set when the database was found by auto-discovery on this server.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='databases', to='backups.server'),
        ),
    ]
