"""Database triggers that refuse UPDATE and DELETE on the audit trail.

AuditEvent.save()/delete() already refuse, but QuerySet.update(), QuerySet.delete() and raw SQL skip them.
These triggers make the database itself refuse, for every client of the app's connection. A database owner
can still drop them (that is what the chain verification and the outside anchor are for).
"""

from django.db import migrations

TABLE = "dashboard_auditevent"
MESSAGE = "audit events are append-only: UPDATE and DELETE are refused"

SQLITE_FORWARD = [
    f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
    f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update;", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete;"]

# SQLSTATE 23000 (integrity_constraint_violation) so Django raises IntegrityError on both backends.
POSTGRES_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
    END $$;""",
    f"""CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only();""",
    f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only();""",
]
POSTGRES_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};",
    f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};",
    f"DROP FUNCTION IF EXISTS {TABLE}_append_only();",
]
BY_VENDOR = {"sqlite": (SQLITE_FORWARD, SQLITE_BACKWARD), "postgresql": (POSTGRES_FORWARD, POSTGRES_BACKWARD)}


def _run(schema_editor, which: int) -> None:
    statements = BY_VENDOR.get(schema_editor.connection.vendor)
    if statements is None:
        raise RuntimeError(f"no append-only trigger for the {schema_editor.connection.vendor} backend")
    for statement in statements[which]:
        schema_editor.execute(statement, params=None)


def forward(apps, schema_editor):
    _run(schema_editor, 0)


def backward(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0004_evidence_export_and_sample")]
    operations = [migrations.RunPython(forward, backward)]
