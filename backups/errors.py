"""Errors with messages written for the person at the terminal or the dashboard: one line, what and why."""

from __future__ import annotations


class LifeboatError(Exception):
    """Base for every error Lifeboat reports to a user as a one-line message."""


class ConfigurationError(LifeboatError):
    """Bad input or configuration: a malformed DSN, a missing binary, an unknown name."""


class SourceUnreachable(LifeboatError):
    """The source (or target) PostgreSQL server cannot be reached or refused us."""


class BackupFailed(LifeboatError):
    """pg_dump or the write chain failed; the run is recorded as failed and nothing partial survives."""


class AlreadyRunning(LifeboatError):
    """A backup of this database is already queued or running."""


class RestoreFailed(LifeboatError):
    """pg_restore (or preparing its target) failed."""


class StorageError(LifeboatError):
    """A tier could not store, read or delete a copy."""


class EncryptionError(LifeboatError):
    """An age-encrypted copy cannot be written or read: no identity, the wrong one, or a damaged copy."""
