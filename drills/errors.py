"""Drill errors: one line for the person in the dashboard, saying what was refused and why."""

from __future__ import annotations


class DrillError(Exception):
    """A drill operation was refused (wrong state, missing permission, bad input)."""


class DrillLocked(DrillError):
    """The drill is signed off: its record cannot change; corrections go in as new notes."""
