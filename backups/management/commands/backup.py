from __future__ import annotations

from django.core.management.base import CommandError

from backups.engine import pipeline
from backups.management.commands._base import LifeboatCommand, get_database
from backups.models import BackupRun, Tier
from core.units import human_bytes


def run_json(run: BackupRun) -> dict:
    return {
        "id": run.pk,
        "database": run.database.name,
        "status": run.status,
        "size_bytes": run.size_bytes,
        "raw_size_bytes": run.raw_size_bytes,
        "sha256": run.sha256,
        "error": run.error,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration.total_seconds() if run.duration else None,
        "row_counts": run.row_counts,
        "warnings": run.warnings,
        "artifacts": [
            {"tier": a.tier.name, "location": a.location, "size_bytes": a.size_bytes, "sha256": a.sha256,
             "status": a.status, "version_id": a.version_id, "error": a.error}
            for a in sorted(run.artifacts.select_related("tier"),
                            key=lambda a: (*a.tier.nearness, a.tier.name))
        ],
    }


class Command(LifeboatCommand):
    help = "Back up a database now, in the foreground. Exit 0 when the run succeeded, 1 when it failed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--tier", action="append", default=[], help="only these tiers (repeatable)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--queue", action="store_true",
                            help="hand the backup to the django-q2 cluster instead of running it here")

    def handle(self, *args, name: str, tier: list[str], json: bool, queue: bool, **options) -> None:
        database = get_database(name)
        if queue:
            if tier:
                raise CommandError("--queue backs up to the database's configured tiers; drop --tier")
            run = pipeline.queue_backup(database, trigger=BackupRun.Trigger.CLI)
            self.emit_json(run_json(run)) if json else self.stdout.write(f"run #{run.pk} queued")
            return
        tiers = None
        if tier:
            found = {t.name: t for t in Tier.objects.filter(name__in=tier)}
            missing = [t for t in tier if t not in found]
            if missing:
                raise CommandError(f"unknown tier {', '.join(missing)}; known: "
                                   + ", ".join(Tier.objects.values_list("name", flat=True)))
            tiers = [found[t] for t in tier]
        run = pipeline.backup(database, tiers=tiers, trigger=BackupRun.Trigger.CLI)
        if json:
            self.emit_json(run_json(run))
        elif run.status == BackupRun.Status.SUCCEEDED:
            self.stdout.write(f"run #{run.pk} succeeded: {human_bytes(run.size_bytes)} "
                              f"({human_bytes(run.raw_size_bytes)} dumped), sha256 {run.sha256}")
            for artifact in run.artifacts.select_related("tier"):
                self.stdout.write(f"  {artifact.tier.name}: {artifact.status} {artifact.location} "
                                  f"{human_bytes(artifact.size_bytes)} {artifact.error}".rstrip())
        else:
            self.stderr.write(f"run #{run.pk} failed: {run.error}")
        self.exit(0 if run.status == BackupRun.Status.SUCCEEDED else 1)
