from __future__ import annotations

from django.core.management.base import CommandError

from audit.rebuild import RebuildError, rebuild_trail
from backups.management.commands._base import LifeboatCommand
from backups.management.commands._tier_options import add_tier_arguments, tier_from_options
from backups.storage.audit_anchor_sites import site_for


class Command(LifeboatCommand):
    help = ("After Lifeboat's database was lost: load the audit segments shipped to an off-host tier, check them "
            "against their hashes and the chain heads kept there, and disclose what was lost with one "
            "audit.recovery_gap event. restore_selfbackup does this itself; run it alone into an empty trail.")

    def add_arguments(self, parser) -> None:
        add_tier_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, json: bool, **options) -> None:
        tier, _ = tier_from_options(options, save=False)
        try:
            report = rebuild_trail(site_for(tier))
        except RebuildError as exc:
            raise CommandError(str(exc)) from None
        if json:
            self.emit_json(report.as_dict())
        else:
            self.stdout.write(report.line())
