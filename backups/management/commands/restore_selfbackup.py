from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import CommandError

from audit import trail
from audit.rebuild import RebuildError, rebuild_trail
from backups.catalog.selfbackup import is_sqlite, restore_postgresql, restore_sqlite
from backups.management.commands._base import LifeboatCommand
from backups.management.commands._tier_options import add_tier_arguments, tier_from_options
from backups.models import Feature
from backups.storage import storage_for
from backups.storage.audit_anchor_sites import site_for


class Command(LifeboatCommand):
    help = ("Bring back Lifeboat's own database from its newest self-backup in a tier (SQLite: the checked copy; "
            "PostgreSQL: the newest backup of the dashboard's database, into an empty one), then migrate. "
            "Stop the web server and the qcluster first.")

    def add_arguments(self, parser) -> None:
        add_tier_arguments(parser)
        parser.add_argument("--name", default="", help="a particular lifeboat_selfbackup_*.sqlite3.zst")
        parser.add_argument("--force", action="store_true",
                            help="replace a dashboard database that already holds users or backup runs")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, name: str, force: bool, json: bool, **options) -> None:
        tier, _ = tier_from_options(options, save=False)  # the restored database brings its own tiers
        storage = storage_for(tier)
        result = restore_sqlite(storage, name, force=force) if is_sqlite() else restore_postgresql(storage, force=force)
        # The trail first, before migrate or this command write an event: the restored events are a prefix of
        # the shipped ones, and what was written after the self-backup follows them, never a fork of its own.
        result["audit"] = self.rebuild_audit_trail(tier) if tier.can(Feature.REMOTE) else None
        call_command("migrate", interactive=False, verbosity=0)
        trail.record("selfbackup.restored", summary=f"Lifeboat's own database restored from {result['name']}",
                     details={**result, "tier": tier.name})
        if json:
            self.emit_json(result)
        else:
            self.stdout.write(f"restored {result['name']} (taken {result['created_at']}, "
                              f"{result['app_schema_version'] or 'schema unknown'}) into {result['database']}; "
                              "now run import_catalog to add the backups taken since")
            if result["audit"]:
                self.stdout.write(result["audit"]["line"])

    def rebuild_audit_trail(self, tier) -> dict:
        try:
            report = rebuild_trail(site_for(tier))
        except RebuildError as exc:
            raise CommandError(f"database restored, but the audit trail could not be rebuilt: {exc}") from None
        return {**report.as_dict(), "line": report.line()}
