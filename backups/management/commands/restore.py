from __future__ import annotations

from django.core.management.base import CommandError

from backups.conninfo import ConnectionOptions, password_from_env
from backups.management.commands._base import LifeboatCommand
from backups.models import Artifact, BackupRun, Restore
from backups.recovery import restore
from backups.recovery.replace import replace as replace_database
from core.roles import REPLACE_DATABASE


def restore_json(record: Restore) -> dict:
    return {
        "id": record.pk,
        "status": record.status,
        "mode": record.mode,
        "run": record.artifact.run_id,
        "artifact": record.artifact_id,
        "tier": record.artifact.tier.name,
        "target": record.target_dsn,
        "target_database": record.target_database,
        "tables": record.tables,
        "with_globals": record.with_globals,
        "forensic_database": record.forensic_database,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_seconds": record.duration.total_seconds() if record.duration else None,
        "error": record.error,
        "restored_as": record.restored_as,
        "steps": record.steps,
        "production_state": record.production_state,
    }


def pick_artifact(run_id: int, tier: str | None) -> Artifact:
    try:
        run = BackupRun.objects.select_related("database").get(pk=run_id)
    except BackupRun.DoesNotExist:
        raise CommandError(f"unknown backup run {run_id}") from None
    copies = run.artifacts.live().select_related("tier", "run__database")
    if tier:
        copies = copies.filter(tier__name=tier)
    artifact = min(copies, key=lambda a: a.tier.nearness, default=None)
    if artifact is None:
        raise CommandError(f"run {run_id} has no copy to restore" + (f" in tier {tier}" if tier else "")
                           + f" (status {run.status})")
    return artifact


class Command(LifeboatCommand):
    help = ("Restore a backup: into a new database (here or on another server), selected tables only, "
            "or over the production database with a forensic copy kept (--replace).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--target-db", help="database to create (with --replace: the production name)")
        parser.add_argument("--target-dsn", help="another server: postgresql://USER@HOST:PORT/ANYDB (no password)")
        parser.add_argument("--target-password-env", help="environment variable with the target's password")
        parser.add_argument("--table", action="append", default=[], help="only this table (repeatable)")
        parser.add_argument("--with-globals", action="store_true", help="restore roles and tablespaces first")
        parser.add_argument("--replace", action="store_true",
                            help="restore over the production database, keeping it as <db>_forensic_<time>")
        parser.add_argument("--force", action="store_true",
                            help="replace an existing target database; with --replace, confirms it")
        parser.add_argument("--no-owner", action="store_true",
                            help="skip grants too (other servers, where the grantees do not exist)")
        parser.add_argument("--owner", help="hand the restored database and its objects to this role afterwards "
                                            "(default: they stay the restore role's)")
        parser.add_argument("--as-superuser", action="store_true",
                            help="load as Lifeboat's own login instead of the restricted restore role: only on a "
                                 "server an Admin marked isolated (code in the backup runs with its rights)")
        parser.add_argument("--tier", help="restore the copy in this tier (default: local first)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_id: int, target_db, target_dsn, target_password_env, table, with_globals, replace,
               force, no_owner, owner, as_superuser, tier, json, **options):
        from core.env import secret_env_refusal

        if target_password_env and secret_env_refusal(target_password_env):
            raise CommandError(secret_env_refusal(target_password_env))
        artifact = pick_artifact(run_id, tier)
        if replace:
            self.require_actor(REPLACE_DATABASE, "restore over a production database")
            if table or target_dsn or with_globals:
                raise CommandError("--replace restores the whole database in place; drop --table/--target-dsn")
            production = artifact.run.database.dbname
            if target_db and target_db != production:
                raise CommandError(f"--replace restores over {production}; --target-db must be that name or omitted")
            if not force:
                raise CommandError(f"--replace overwrites {production}: add --force to confirm")
            record = replace_database(artifact, confirm=production, no_owner=no_owner, as_superuser=as_superuser)
        else:
            if not target_db:
                raise CommandError("--target-db is required (or --replace)")
            target = None
            if target_dsn:
                target = ConnectionOptions.parse(
                    target_dsn, password=password_from_env(target_password_env or "", "--target-dsn"))
            record = restore.restore(artifact, target_db, target=target, tables=table, with_globals=with_globals,
                                     force=force, no_owner=no_owner, owner=owner, as_superuser=as_superuser)
        if json:
            self.emit_json(restore_json(record))
        elif record.status == Restore.Status.SUCCEEDED:
            extra = f"; production kept as {record.forensic_database}" if record.forensic_database else ""
            self.stdout.write(f"restored run #{run_id} into {record.target_dsn} in "
                              f"{record.duration.total_seconds():.1f} s{extra}")
        else:
            self.stderr.write(f"restore failed: {record.error}")
        self.exit(0 if record.status == Restore.Status.SUCCEEDED else 1)
