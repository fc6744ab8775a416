"""python manage.py verify_evidence FILE.zip [--public-key lifeboat.pub]: signature, every hash, the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import minisign
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from evidence.signing import load_public_key
from evidence.verify import verify_package


class Command(AuditedCommand):
    help = ("Check an evidence package: its minisign signature (with --public-key, else the configured signing "
            "key's), the SHA-256 of every file and the manifest. Exit 0 only when everything matches.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("package", help="the evidence .zip")
        parser.add_argument("--public-key", help="minisign public key file (lifeboat.pub)")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, package: str, public_key: str | None, as_json: bool, **options) -> None:
        try:
            public = load_public_key(Path(public_key) if public_key else None)
        except (OSError, minisign.Error) as exc:
            raise CommandError(f"cannot read the public key {public_key}: {exc}") from None
        check = verify_package(Path(package), public)
        if as_json:
            self.stdout.write(json.dumps({"ok": check.ok, "signed": check.signed, "checked": check.checked,
                                          "problems": check.problems}))
        else:
            if check.signed:
                self.stdout.write("signature good (SHA256SUMS.txt.minisig)")
            self.stdout.write(f"{len(check.checked)} files match SHA256SUMS.txt")
            for problem in check.problems:
                self.stderr.write(f"problem: {problem}")
        if not check.ok:
            raise SystemExit(1)
