"""Structured job logs: every line a job writes carries its run id, so an operator can follow one run.

`with joblog.job("backup", run_id=12, database="dsa_learning"):` binds the fields for the code inside (a
contextvar, so threads and workers do not mix them up); `JobContextFilter` copies them onto every log record,
and `JsonFormatter` prints one JSON object per line when LOG_FORMAT=json.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The fields a job may bind, in the order they are printed.
FIELDS = ("job", "run_id", "database", "tier", "artifact_id", "verification_id", "restore_id", "alert_id",
          "notification_id", "channel")

_current: ContextVar[dict[str, Any]] = ContextVar("lifeboat_job", default={})  # noqa: B039 (never mutated)


@contextmanager
def job(kind: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Bind `kind` and `fields` to every log line written inside the block (nested blocks add fields)."""
    bound = {**_current.get(), "job": kind, **{k: v for k, v in fields.items() if v is not None}}
    token = _current.set(bound)
    try:
        yield bound
    finally:
        _current.reset(token)


def current() -> dict[str, Any]:
    return dict(_current.get())


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}


class JobContextFilter(logging.Filter):
    """Adds the bound job fields to each record (an explicit `extra=` wins) and a plain-text prefix."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _current.get().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        fields = record_fields(record)
        record.job_fields = "".join(f"{k}={v} " for k, v in fields.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the job fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
