from __future__ import annotations

from backups.catalog.discovery import discover_all
from backups.management.commands._base import LifeboatCommand


class Command(LifeboatCommand):
    help = "Protect every new database on the servers with auto-discovery on (runs hourly by itself)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, json: bool, **options) -> None:
        outcome = discover_all()
        if json:
            self.emit_json(outcome)
        else:
            for server, found in outcome.items():
                self.stdout.write(f"{server}: {found if isinstance(found, str) else ', '.join(found) or 'nothing new'}")
        self.exit(1 if any(isinstance(found, str) for found in outcome.values()) else 0)
