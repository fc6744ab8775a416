"""python manage.py export_evidence --since YYYY-MM-DD --until YYYY-MM-DD [--database NAME ...] --output FILE.zip"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

from audit import trail
from audit.commands import AuditedCommand
from core.units import human_bytes
from evidence.export import export_to_file
from evidence.period import Scope, ScopeError, parse_day


class Command(AuditedCommand):
    help = "Write the evidence package of a period (UTC days, inclusive) to a zip file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD (UTC)")
        parser.add_argument("--until", required=True, help="last day, YYYY-MM-DD (UTC), inclusive")
        parser.add_argument("--database", action="append", default=[], help="only this database (repeatable)")
        parser.add_argument("--output", required=True, help="the zip file to write")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the manifest's outline")

    def handle(self, *args, since: str, until: str, database: list[str], output: str, as_json: bool, **options):
        path = Path(output)
        if path.suffix.lower() != ".zip":
            raise CommandError(f"--output must name a .zip file, not {output!r}")
        if path.exists():
            raise CommandError(f"{output} exists already: choose another name (nothing was overwritten)")
        try:
            scope = Scope.build(parse_day(since, "--since"), parse_day(until, "--until"), database)
        except ScopeError as exc:
            raise CommandError(str(exc)) from None
        manifest, sha256, size = export_to_file(scope, path, user=self.actor_user, exported_by=trail.current_actor())
        if as_json:
            self.stdout.write(json.dumps({"output": str(path), "sha256": sha256, "size": size,
                                          "counts": {p["name"]: p["count"] for p in manifest["populations"]},
                                          "omissions": manifest["omissions"]}))
            return
        counts = ", ".join(f"{p['name']} {p['count']}" for p in manifest["populations"])
        self.stdout.write(f"wrote {path} ({human_bytes(size)}, sha256 {sha256}): {counts}")
        for omission in manifest["omissions"]:
            self.stdout.write(f"omitted {omission['item']}: {omission['reason']}")
