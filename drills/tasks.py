"""django-q2 entry points for drills (thin: the work is in drills/recovery.py)."""

from __future__ import annotations


def run_drill_restore(drill_id: int, restore_id: int) -> str:
    from drills import recovery

    return recovery.run(drill_id, restore_id)
