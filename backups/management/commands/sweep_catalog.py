from __future__ import annotations

from django.core.management.base import CommandError

from backups.catalog.sweep import sweep_tier
from backups.management.commands._base import LifeboatCommand
from backups.retention.applier import retention_tiers
from core.roles import MANAGE_STORAGE


class Command(LifeboatCommand):
    help = ("Make each tier's manifests and the dashboard's copies agree: finish interrupted deletions, remove "
            "orphan manifests, mark copies whose object is gone, rewrite lost manifests, mark copies the lifecycle "
            "moved to GLACIER archived. Exit 1 on an error.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tier", help="only this tier (by name)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, tier: str | None, json: bool, **options) -> None:
        tiers = retention_tiers(tier)
        if tier and not tiers:
            raise CommandError(f"unknown tier {tier!r}")
        self.require_actor(MANAGE_STORAGE, "repair the catalog")
        reports = [sweep_tier(t, actor=self.actor_user) for t in tiers]
        if json:
            self.emit_json({"tiers": [r.as_json() for r in reports]})
        else:
            for report in reports:
                self.stdout.write(f"{report.tier}: {report.repaired} repaired")
                for label in ("finished", "orphan_manifests_removed", "missing_copies", "manifests_rewritten",
                              "archived_copies"):
                    for entry in getattr(report, label):
                        self.stdout.write(f"  {label.replace('_', ' ')}: {entry}")
                for error in report.errors:
                    self.stderr.write(f"  error: {error}")
        self.exit(1 if any(r.errors for r in reports) else 0)
