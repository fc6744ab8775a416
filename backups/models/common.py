"""Validators shared by the models: names that end up in file names, keys and arguments; cron."""

from __future__ import annotations

from datetime import timedelta

from croniter import croniter
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

# Names end up in file names, S3 keys and pg_dump arguments: letters, digits, _ . - only.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
name_validator = RegexValidator(
    NAME_RE, "Use letters, digits, '_', '.' or '-' (no spaces or shell characters), up to 63 characters."
)
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"


def validate_cron(value: str) -> None:
    if not croniter.is_valid(value):
        raise ValidationError(f"{value!r} is not a valid cron expression (five fields, e.g. '0 2 * * *').")


class Timed:
    """For work with `started_at` and `finished_at` (a run, a verification, a restore): how long it took."""

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
