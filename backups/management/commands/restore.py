from __future__ import annotations

from django.core.management.base import CommandError

from backups import restore
from backups.management.commands._base import LifeboatCommand
from backups.models import Artifact, BackupRun, Restore, Tier


def restore_json(record: Restore) -> dict:
    return {
        "id": record.pk,
        "status": record.status,
        "mode": record.mode,
        "run": record.artifact.run_id,
        "artifact": record.artifact_id,
        "target": record.target_dsn,
        "target_database": record.target_database,
        "duration_seconds": record.duration.total_seconds() if record.duration else None,
        "error": record.error,
    }


def local_artifact(run_id: int) -> Artifact:
    try:
        run = BackupRun.objects.select_related("database").get(pk=run_id)
    except BackupRun.DoesNotExist:
        raise CommandError(f"unknown backup run {run_id}") from None
    artifact = run.artifacts.live().filter(tier__kind=Tier.Kind.LOCAL).select_related("tier").first()
    if artifact is None:
        raise CommandError(f"run {run_id} has no local copy to restore (status {run.status})")
    return artifact


class Command(LifeboatCommand):
    help = "Restore a run's local artifact into a new database on the source server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--target-db", required=True, help="name of the database to create")
        parser.add_argument("--force", action="store_true", help="drop and recreate the target if it exists")
        parser.add_argument("--no-owner", action="store_true", help="skip ownership and grants (other servers)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_id: int, target_db: str, force: bool, no_owner: bool, json: bool, **options):
        artifact = local_artifact(run_id)
        record = restore.restore_new_database(artifact, target_db, force=force, no_owner=no_owner)
        if json:
            self.emit_json(restore_json(record))
        elif record.status == Restore.Status.SUCCEEDED:
            self.stdout.write(f"restored run #{run_id} into {record.target_dsn} in "
                              f"{record.duration.total_seconds():.1f} s")
        else:
            self.stderr.write(f"restore failed: {record.error}")
        self.exit(0 if record.status == Restore.Status.SUCCEEDED else 1)
