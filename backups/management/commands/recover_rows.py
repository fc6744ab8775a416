from __future__ import annotations

from backups.management.commands._base import LifeboatCommand
from backups.management.commands.restore import pick_artifact
from backups.recovery import rows
from core.roles import RUN_OPERATIONS


class Command(LifeboatCommand):
    help = ("Get deleted rows back: restore the chosen tables of a backup into a recovery database, compare them "
            "with production by primary key, and insert only the rows production is missing (never overwriting "
            "one), in one transaction, as each table's owner. Without --dry-run it needs --actor USER (a DBA).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--table", action="append", default=[], required=True,
                            help='a table with a primary key, as PostgreSQL names it: users, billing.invoices, '
                                 '\'"Course Content"."Lessons ü"\' (repeatable)')
        parser.add_argument("--dry-run", action="store_true", help="only compare: count missing, changed, equal")
        parser.add_argument("--tier", help="use the copy in this tier (default: local first)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_id: int, table, dry_run, tier, json, **options):
        artifact = pick_artifact(run_id, tier)
        if not dry_run:
            self.require_actor(RUN_OPERATIONS, "insert recovered rows into production")
        result = rows.recover_rows(artifact, table, dry_run=dry_run, user=self.actor_user)
        if json:
            self.emit_json(result.as_dict())
            return
        for t in result.tables:
            done = "" if dry_run else f"; {t.inserted} inserted" + (f", {t.skipped} skipped (conflict)"
                                                                      if t.skipped else "")
            self.stdout.write(f"{t.table}: {t.missing} missing, {t.changed} changed, {t.equal} equal{done}")
        if dry_run:
            self.stdout.write("dry run: production unchanged (run again without --dry-run to insert the missing rows)")
