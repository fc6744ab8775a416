from __future__ import annotations

from django.core.management.base import CommandError

from backups.management.commands._base import LifeboatCommand
from backups.models import Feature, Tier
from backups.storage.bucket_policy import apply_policy, check_drift


class Command(LifeboatCommand):
    help = ("Make each S3 tier's bucket match its declared policy (versioning, lifecycle, Object Lock, public "
            "access block), then check it again. --check only reports the drift (exit 1 when there is some).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("tier", nargs="?", help="only this tier (default: every enabled S3 tier)")
        parser.add_argument("--check", action="store_true", help="report differences, change nothing")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, tier: str | None, check: bool, json: bool, **options) -> None:
        tiers = Tier.objects.that_can(Feature.BUCKET_POLICY)
        tiers = list(tiers.filter(name=tier) if tier else tiers.filter(enabled=True))
        if tier and not tiers:
            raise CommandError(f"unknown S3 tier {tier!r}")
        results = []
        for t in tiers:
            actions = [] if check else apply_policy(t)
            drift = check_drift(t)
            results.append({"tier": t.name, "bucket": t.bucket, "actions": actions,
                            "differences": drift.differences})
            if not json:
                self.stdout.write(f"{t.name} (s3://{t.bucket}/{t.prefix}): " +
                                  ("; ".join(actions) if actions else "no change" if not check else "checked"))
                for difference in drift.differences:
                    self.stdout.write(f"  differs: {difference}")
                if not drift.differences:
                    self.stdout.write("  in sync with the declared policy")
        if json:
            self.emit_json({"tiers": results})
        self.exit(1 if any(r["differences"] for r in results) else 0)
