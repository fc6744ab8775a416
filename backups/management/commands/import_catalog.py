from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction

from audit import trail
from backups.catalog.importer import FLAGGED, ImportItem, import_catalog
from backups.management.commands._base import LifeboatCommand
from backups.management.commands._tier_options import add_tier_arguments, tier_from_options


class Command(LifeboatCommand):
    help = ("Rebuild databases, runs and copies from the manifests in a tier (idempotent, resumable: a re-run skips "
            "what is already imported). Exit 0 when nothing was flagged, 1 when a copy or manifest was flagged.")

    def add_arguments(self, parser) -> None:
        add_tier_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="report what would be imported; change nothing")
        parser.add_argument("--defer-hashing", action="store_true",
                            help="do not download and hash each artifact: record it with its manifest's SHA-256, "
                                 "marked 'hash not yet checked'; the next verification hashes it (large buckets)")
        parser.add_argument("--progress-every", type=int, default=100, metavar="N",
                            help="a progress line on stderr every N manifests (default 100)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, dry_run: bool, defer_hashing: bool, progress_every: int, json: bool,
               **options) -> None:
        self.progress_every = max(progress_every, 1)
        self.as_json = json
        # A dry run rolls back the tier it had to create, too; a real import commits manifest by manifest.
        with transaction.atomic() if dry_run else nullcontext():
            tier, created = tier_from_options(options, save=True)
            if created and not dry_run:
                trail.record("config.tier.created", target=tier, summary=f"tier {tier.name} added by import_catalog",
                             details={"kind": tier.kind, "path": tier.path, "bucket": tier.bucket,
                                      "prefix": tier.prefix})
            report = import_catalog(tier, dry_run=dry_run, defer_hashing=defer_hashing, progress=self.progress,
                                    on_item=self.show)
            if dry_run:
                transaction.set_rollback(True)
        if json:
            self.emit_json(report.as_json())
        else:
            counts = report.summary()
            self.stdout.write(f"{'would import' if dry_run else 'imported'} {counts['imported']}, "
                              f"already known {counts['known']}, flagged {counts['flagged']} (tier {tier.name})"
                              + (f"; hashing deferred for {report.hashing_deferred}: the next verification of "
                                 "each checks its bytes" if report.hashing_deferred else ""))
        self.exit(1 if report.count(FLAGGED) else 0)

    def show(self, item: ImportItem) -> None:
        """Each outcome as it happens (nothing is held back for the end); with --json only the summary."""
        if self.as_json:
            return
        line = f"{item.outcome:8} {item.manifest}"
        if item.run_id:
            line += f" -> run #{item.run_id}"
        self.stdout.write(line + (f": {item.reason}" if item.reason else ""))

    def progress(self, done: int, name: str) -> None:
        """On stderr (stdout stays one JSON object with --json): every Nth manifest."""
        if done % self.progress_every == 0:
            self.stderr.write(f"{done} manifests done ({name})")
