from __future__ import annotations

from django.core.management.base import CommandError

from backups.catalog.cold import restore_archived
from backups.management.commands._base import LifeboatCommand
from backups.models import Tier
from core.roles import MANAGE_STORAGE


class Command(LifeboatCommand):
    help = ("Copies imported as archived (GLACIER / DEEP_ARCHIVE): request their restore from S3; once restored, "
            "check each one's SHA-256 and make it a live copy. Run again until every copy is readable. "
            "Exit 1 when a copy failed.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tier", required=True, help="the S3 tier (by name)")
        parser.add_argument("--days", type=int, default=7, help="how long S3 keeps the restored copy readable")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, tier: str, days: int, json: bool, **options) -> None:
        found = Tier.objects.filter(name=tier).first()
        if found is None:
            raise CommandError(f"unknown tier {tier!r}")
        self.require_actor(MANAGE_STORAGE, "restore archived copies")
        copies = restore_archived(found, days=days, actor=self.actor_user)
        if json:
            self.emit_json({"tier": found.name, "copies": [c.__dict__ for c in copies]})
        else:
            for copy in copies:
                self.stdout.write(f"copy {copy.artifact} {copy.location}: {copy.state}"
                                  + (f" ({copy.detail})" if copy.detail else ""))
            if not copies:
                self.stdout.write(f"{found.name}: no archived copy")
        self.exit(1 if any(c.state == "failed" for c in copies) else 0)
