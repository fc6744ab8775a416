from __future__ import annotations

import sys

from audit.commands import AuditedCommand
from backups.schedules import sync_all


class Command(AuditedCommand):
    help = ("Register every database's backup schedule and the housekeeping schedules with django-q2. A database "
            "whose schedule cannot run is reported (exit status 1) and the others are synced all the same.")

    def handle(self, *args, **options) -> None:
        problems = sync_all()
        for problem in problems:
            self.stderr.write(problem)
        self.stdout.write("schedules in sync" + (f" except {len(problems)} (see above)" if problems else ""))
        if problems:
            sys.exit(1)
