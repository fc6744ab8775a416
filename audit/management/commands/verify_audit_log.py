"""python manage.py verify_audit_log: check the whole audit chain; exit 0 only when intact."""

from __future__ import annotations

import json

from audit import anchor
from audit.chain import verify_chain
from audit.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Verify the hash chain of the audit trail, name the first broken event; exit 1 when broken."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object.")
        parser.add_argument("--anchor", action="store_true", dest="write_anchor",
                            help="When intact, append the chain head to the outside anchor file.")
        parser.add_argument("--ignore-anchor", action="store_true",
                            help="Do not compare with the last outside anchor.")

    def handle(self, *args, as_json: bool = False, write_anchor: bool = False, ignore_anchor: bool = False,
               **options) -> None:
        report = verify_chain(None if ignore_anchor else anchor.known_anchors())
        if report.intact and write_anchor:
            anchor.write_anchor(report)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.intact:
            self.stdout.write(report.line())
        else:
            self.stderr.write(report.line())
        if not as_json:
            for warning in report.warnings:
                self.stderr.write(f"warning: {warning}")
        if not report.intact:
            raise SystemExit(1)
