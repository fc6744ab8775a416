"""Shared plumbing for Lifeboat's commands: one-line errors, JSON output, exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.serializers.json import DjangoJSONEncoder

from audit.commands import AuditedCommand
from backups.errors import LifeboatError
from backups.models import Database


class LifeboatCommand(AuditedCommand):
    """Turns Lifeboat's errors into `CommandError` (one line on stderr, exit 1)."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except LifeboatError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    def emit_json(self, payload: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(payload, cls=DjangoJSONEncoder, indent=None, sort_keys=True))

    def exit(self, code: int) -> None:
        if code:
            sys.exit(code)


def get_database(name: str) -> Database:
    try:
        return Database.objects.get(name=name)
    except Database.DoesNotExist:
        known = ", ".join(Database.objects.values_list("name", flat=True)) or "none yet (see add_database)"
        raise CommandError(f"unknown database {name!r}; known: {known}") from None
