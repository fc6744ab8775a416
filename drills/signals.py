"""What the drill record announces to the modules built on it (recovery listens; conduct never imports it)."""

from __future__ import annotations

from django.dispatch import Signal

# A drill was completed: drill=, user=. drills.receivers has drills.recovery drop the database the drill restored.
drill_completed = Signal()
