"""The recovery plan's four scenarios and its two drill checklists, as starting configuration (admin-editable).

RTO ranges keep both ends; the pass mark is the upper end. Steps are the plan's, with its shell snippets replaced
by what Lifeboat does (restore.py's operations, `manage.py restore`).
"""

from django.db import migrations

SCENARIOS = [
    {
        "name": "Data corruption", "slug": "data-corruption", "priority": "low",
        "summary": "Corrupted records in the database.",
        "rto_min_minutes": 60, "rto_minutes": 240, "rpo_minutes": 24 * 60, "operation": "new_database",
        "runbook": "\n".join([
            "Identify when the corruption occurred",
            "Find the newest backup taken before the corruption (Backups page, filter by database)",
            "Restore it into a separate test database (restore into a new database)",
            "Verify data integrity: row counts against the backup's record, spot-check the corrupted records",
            "Restore to production (with downtime): stop the application, replace from the checked backup",
        ]),
    },
    {
        "name": "Accidental deletion", "slug": "accidental-deletion", "priority": "medium",
        "summary": "A user accidentally deletes important data.",
        "rto_min_minutes": 120, "rto_minutes": 240, "rpo_minutes": 4 * 60, "operation": "tables",
        "runbook": "\n".join([
            "Stop the application from writing to the database",
            "Identify what was deleted (tables, rows, time)",
            "Restore the affected tables from the newest backup into a recovery database",
            "Compare and copy the deleted rows back; merge with changes made since the backup if needed",
        ]),
    },
    {
        "name": "Server failure", "slug": "server-failure", "priority": "high",
        "summary": "The database server fails completely.",
        "rto_min_minutes": 15, "rto_minutes": 30, "rpo_minutes": 24 * 60, "operation": "new_server",
        "runbook": "\n".join([
            "Provision a new server or RDS instance",
            "Restore from the S3 backup onto the new server (roles and tablespaces first)",
            "Verify data integrity: row counts against the backup's record",
            "Update the application's connection string (DATABASE_URL)",
            "Run migrations if needed, then restart the application",
        ]),
    },
    {
        "name": "Ransomware / security breach", "slug": "ransomware-security-breach", "priority": "critical",
        "summary": "The database is compromised by ransomware or unauthorized access.",
        "rto_min_minutes": None, "rto_minutes": 60, "rpo_minutes": 24 * 60, "operation": "replace",
        "runbook": "\n".join([
            "Isolate affected systems immediately: stop the backend and frontend",
            "Revoke all database credentials",
            "Restore from a clean, verified backup, keeping the compromised database as a forensic copy",
            "Regenerate all secrets and tokens (JWT secret, database passwords); reset user passwords",
            "Audit access logs",
            "Notify affected users",
        ]),
    },
]

CHECKLISTS = [
    {
        "name": "Monthly DR test", "max_recovery_minutes": None, "require_full_integrity": True,
        "objective": "First Sunday of each month, 8 AM UTC; 2-4 hours; 2+ team members.",
        "items": [
            ("Start with latest backup", "backup"),
            ("Restore to test environment", "restore"),
            ("Verify all data integrity checks pass", "integrity"),
            ("Run application against test database", ""),
            ("Execute smoke tests", ""),
            ("Document time to recovery", "timing"),
            ("Identify and fix issues", ""),
            ("Update documentation", ""),
        ],
    },
    {
        "name": "Annual full-scale DR exercise", "max_recovery_minutes": 30, "require_full_integrity": True,
        "objective": "Simulate complete data center failure. Success: recovery completed within 30 minutes, "
                     "100% data integrity, all services operational, users can log in and access data.",
        "items": [
            ("Restore to completely new server", "restore"),
            ("Verify all services start up correctly", ""),
            ("Confirm user access works", ""),
            ("Test failover procedures", ""),
        ],
    },
]


def seed(apps, schema_editor):
    Scenario = apps.get_model("drills", "Scenario")
    ChecklistTemplate = apps.get_model("drills", "ChecklistTemplate")
    ChecklistItem = apps.get_model("drills", "ChecklistItem")
    for values in SCENARIOS:
        Scenario.objects.update_or_create(slug=values["slug"], defaults=values)
    for checklist in CHECKLISTS:
        values = {k: v for k, v in checklist.items() if k != "items"}
        template, _ = ChecklistTemplate.objects.update_or_create(name=values.pop("name"), defaults=values)
        template.items.all().delete()
        for position, (text, automation) in enumerate(checklist["items"], start=1):
            ChecklistItem.objects.create(template=template, position=position, text=text, automation=automation)


class Migration(migrations.Migration):
    dependencies = [("drills", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
