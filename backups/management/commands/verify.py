from __future__ import annotations

from django.core.management.base import CommandError

from backups.management.commands._base import LifeboatCommand, get_database
from backups.models import Artifact, BackupRun, Verification
from backups.proof.verification import verify_artifact


def verification_json(record: Verification) -> dict:
    return {
        "id": record.pk,
        "status": record.status,
        "run": record.artifact.run_id,
        "artifact": record.artifact_id,
        "tier": record.artifact.tier.name,
        "location": record.artifact.location,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_seconds": record.duration.total_seconds() if record.duration else None,
        "restore_seconds": record.restore_seconds,
        "scratch_database": record.scratch_database,
        "checks": record.checks,
        "table_counts": record.table_counts,
        "error": record.error,
    }


def choose_artifact(run_ref: str, database: str | None, tier: str | None) -> Artifact:
    runs = BackupRun.objects.good().select_related("database")
    if database:
        runs = runs.filter(database=get_database(database))
    if run_ref == "latest":
        run = runs.order_by("-started_at").first()
        if run is None:
            raise CommandError("no successful backup to verify" + (f" of {database}" if database else ""))
    else:
        if not run_ref.isdigit():
            raise CommandError(f"expected a run id or 'latest', got {run_ref!r}")
        run = runs.filter(pk=int(run_ref)).first()
        if run is None:
            raise CommandError(f"no successful backup run {run_ref}" + (f" of {database}" if database else ""))
    copies = run.artifacts.live().select_related("tier", "run__database")
    if tier:
        copies = copies.filter(tier__name=tier)
    artifact = min(copies, key=lambda a: a.tier.nearness, default=None)
    if artifact is None:
        raise CommandError(f"run {run.pk} has no live copy" + (f" in tier {tier}" if tier else ""))
    return artifact


class Command(LifeboatCommand):
    help = "Prove a backup by restoring it into a scratch database. Exit 0 when verified, 1 when not."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run", help="a run id, or 'latest'")
        parser.add_argument("--database", help="with 'latest': the newest backup of this database")
        parser.add_argument("--tier", help="verify the copy in this tier (default: local first)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run: str, database: str | None, tier: str | None, json: bool, **options) -> None:
        record = verify_artifact(choose_artifact(run, database, tier))
        if json:
            self.emit_json(verification_json(record))
        else:
            for check in record.checks:
                self.stdout.write(f"  [{'ok' if check['ok'] else 'FAIL'}] {check['name']}: {check['detail']}")
            self.stdout.write(f"run #{record.artifact.run_id} in {record.artifact.tier.name}: {record.status}")
        self.exit(0 if record.status == Verification.Status.PASSED else 1)
