"""Validators shared by the models: names that end up in file names, keys and arguments; cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from backups.conninfo import parse_query
from backups.errors import ConfigurationError

# Names end up in file names, S3 keys and pg_dump arguments: letters, digits, _ . - only.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
name_validator = RegexValidator(
    NAME_RE, "Use letters, digits, '_', '.' or '-' (no spaces or shell characters), up to 63 characters."
)
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"


# RPO in whole hours: at least an hour, at most a year (beyond it a datetime sum overflows, and no one means it).
RPO_MAX_HOURS = 8760
CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def rpo_of(hours: int) -> timedelta:
    """An RPO in hours as a duration, within 1 hour..a year even for a row saved before those bounds were checked."""
    return timedelta(hours=min(max(hours, 1), RPO_MAX_HOURS))


def validate_rpo_hours(value: int) -> None:
    if not 1 <= value <= RPO_MAX_HOURS:
        raise ValidationError(f"RPO must be whole hours from 1 to {RPO_MAX_HOURS} (a year); got {value}.")


def validate_cron(value: str) -> None:
    """Five fields (minute hour day month weekday) or an @alias, and a next run within a year: croniter also reads
    six fields (seconds first) and accepts dates that never come ('0 2 31 2 *'), which django-q2 cannot schedule."""
    if not croniter.is_valid(value):
        raise ValidationError(f"{value!r} is not a valid cron expression (five fields, e.g. '0 2 * * *').")
    fields = value.split()
    if len(fields) != 5 and value.strip() not in CRON_ALIASES:
        raise ValidationError(f"{value!r} has {len(fields)} fields; a schedule has five fields "
                              "(minute hour day month weekday, e.g. '0 2 * * *').")
    now = datetime.now(UTC)
    try:
        croniter(value, now, max_years_between_matches=1).get_next(datetime)
    except CroniterBadDateError:
        raise ValidationError(f"{value!r} has no run within a year (a date that never comes?).") from None


def validate_libpq_options(value: str) -> None:
    """The options part of a DSN, held to the same rules as a DSN given on the command line."""
    try:
        parse_query(value)
    except ConfigurationError as exc:
        raise ValidationError(str(exc)) from None


class Timed:
    """For work with `started_at` and `finished_at` (a run, a verification, a restore): how long it took."""

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
