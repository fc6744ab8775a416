from __future__ import annotations

from django.core.management.base import CommandError

from backups.management.commands._base import LifeboatCommand
from backups.retention.applier import apply_retention, retention_tiers
from core.roles import MANAGE_STORAGE


class Command(LifeboatCommand):
    help = ("Apply each enabled tier's retention policy: delete expired copies (hard in storage, soft in the "
            "records), move monthly copies to the archive prefix. --dry-run shows what a run would do.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tier", help="only this tier (by name)")
        parser.add_argument("--dry-run", action="store_true", help="plan only: change nothing")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, tier: str | None, dry_run: bool, json: bool, **options) -> None:
        tiers = retention_tiers(tier)
        if tier and not tiers:
            raise CommandError(f"unknown tier {tier!r}")
        if not dry_run:
            self.require_actor(MANAGE_STORAGE, "delete backups by retention")
        reports = [apply_retention(t, dry_run=dry_run, actor=self.actor_user) for t in tiers]
        if json:
            self.emit_json({"dry_run": dry_run, "tiers": [r.as_dict() for r in reports]})
        else:
            for report in reports:
                verb = "would delete" if dry_run else "deleted"
                done = report.plan.deletions if dry_run else report.deleted
                kept = len(report.plan.decisions) - len(report.plan.deletions)
                self.stdout.write(f"{report.tier.name}: {verb} {len(done)}, kept {kept}")
                for d in report.plan.decisions:
                    mark = "DELETE" if d.delete else ("KEEP*" if d.refused else "keep")
                    self.stdout.write(f"  {mark:6} copy {d.copy_id} {d.database} {d.taken_at:%Y-%m-%d %H:%M} "
                                      f"{d.reason}")
                for error in report.errors:
                    self.stderr.write(f"  error: {error}")
        self.exit(1 if any(r.errors for r in reports) else 0)
