from __future__ import annotations

from backups.catalog.selfbackup import is_sqlite, register_self_database, sqlite_self_backup
from backups.engine import pipeline
from backups.management.commands._base import LifeboatCommand
from backups.models import BackupRun


class Command(LifeboatCommand):
    help = ("Back up Lifeboat's own database now: on SQLite a consistent copy to every local and S3 tier, "
            "on PostgreSQL a backup run of the protected database that is the dashboard's own.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, json: bool, **options) -> None:
        if is_sqlite():
            result = sqlite_self_backup()
            failed = [name for name, tier in result["tiers"].items() if "error" in tier]
            ok = len(failed) < len(result["tiers"])
        else:
            database = register_self_database()
            if database is None:
                self.stderr.write("self-backup is off (LIFEBOAT_SELF_BACKUP=0)")
                self.exit(1)
            run = pipeline.backup(database, trigger=BackupRun.Trigger.CLI)
            result = {"name": database.name, "run_id": run.pk, "status": run.status, "error": run.error}
            ok = run.status == BackupRun.Status.SUCCEEDED
        if json:
            self.emit_json(result)
        else:
            self.stdout.write(("self-backup done: " if ok else "self-backup FAILED: ") + str(result))
        self.exit(0 if ok else 1)
