from __future__ import annotations

import sys

from django.db.models import F, Value
from django.db.models.functions import Coalesce

from audit.commands import AuditedCommand
from backups.models import Artifact, refresh_verdicts
from backups.models.runs import newest_verdict


def stale_copies() -> list[int]:
    """Copies whose last_verdict column differs from their verifications (a bulk write that sent no signal)."""
    return list(Artifact.objects.annotate(truth=Coalesce(newest_verdict(), Value("")))
                .exclude(last_verdict=F("truth")).values_list("pk", flat=True))


class Command(AuditedCommand):
    help = ("Recompute each copy's verdict column (the newest decided verification's outcome, which the pages read) "
            "from the verifications. With --check, only report the copies that disagree (exit status 1 if any).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="report, change nothing")

    def handle(self, *args, check: bool = False, **options) -> None:
        stale = stale_copies()
        if check:
            self.stdout.write(f"{len(stale)} copies with a stale verdict" + (f": {stale[:20]}" if stale else ""))
            if stale:
                sys.exit(1)
            return
        refresh_verdicts(Artifact.objects.filter(pk__in=stale))
        self.stdout.write(f"{len(stale)} copies refreshed")
