"""Validators shared by the models: names that end up in file names, keys and arguments; cron."""

from __future__ import annotations

from croniter import croniter
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from backups.connection import parse_query
from backups.errors import ConfigurationError

# Names end up in file names, S3 keys and pg_dump arguments: letters, digits, _ . - only.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
name_validator = RegexValidator(
    NAME_RE, "Use letters, digits, '_', '.' or '-' (no spaces or shell characters), up to 63 characters."
)
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"


def validate_cron(value: str) -> None:
    if not croniter.is_valid(value):
        raise ValidationError(f"{value!r} is not a valid cron expression (five fields, e.g. '0 2 * * *').")


def validate_libpq_options(value: str) -> None:
    """The options part of a DSN, held to the same rules as a DSN given on the command line."""
    try:
        parse_query(value)
    except ConfigurationError as exc:
        raise ValidationError(str(exc)) from None
