"""The four roles as groups. Their permissions are assigned by dashboard.roles.sync_roles after every migrate,
since later apps add permissions that do not exist yet when this migration runs."""

from django.db import migrations

ROLES = ("DBA", "Team lead", "Admin", "Auditor")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0002_export_permission"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
