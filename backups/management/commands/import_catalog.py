from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction

from audit import trail
from backups.catalog.importer import FLAGGED, import_catalog
from backups.management.commands._base import LifeboatCommand
from backups.management.commands._tier_options import add_tier_arguments, tier_from_options


class Command(LifeboatCommand):
    progress_every = 100
    help = ("Rebuild databases, runs and copies from the manifests in a tier (idempotent). "
            "Exit 0 when nothing was flagged, 1 when a copy or manifest was flagged.")

    def add_arguments(self, parser) -> None:
        add_tier_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="report what would be imported; change nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, dry_run: bool, json: bool, **options) -> None:
        # A dry run rolls back the tier it had to create, too; a real import commits manifest by manifest.
        with transaction.atomic() if dry_run else nullcontext():
            tier, created = tier_from_options(options, save=True)
            if created and not dry_run:
                trail.record("config.tier.created", target=tier, summary=f"tier {tier.name} added by import_catalog",
                             details={"kind": tier.kind, "path": tier.path, "bucket": tier.bucket,
                                      "prefix": tier.prefix})
            report = import_catalog(tier, dry_run=dry_run, progress=self.progress)
            if dry_run:
                transaction.set_rollback(True)
        if json:
            self.emit_json(report.as_json())
        else:
            for item in report.items:
                line = f"{item.outcome:8} {item.manifest}"
                if item.run_id:
                    line += f" -> run #{item.run_id}"
                self.stdout.write(line + (f": {item.reason}" if item.reason else ""))
            counts = report.summary()
            self.stdout.write(f"{'would import' if dry_run else 'imported'} {counts['imported']}, "
                              f"already known {counts['known']}, flagged {counts['flagged']} (tier {tier.name})")
        self.exit(1 if report.count(FLAGGED) else 0)

    def progress(self, done: int, total: int, name: str) -> None:
        """On stderr (stdout stays one JSON object with --json): every 100th manifest and the last one."""
        if done % self.progress_every == 0 or done == total:
            self.stderr.write(f"{done}/{total} manifests read ({name})")
