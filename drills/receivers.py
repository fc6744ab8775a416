"""What the drills app does when a signal arrives (connected by DrillsConfig.ready). The work is imported when a
signal fires: drills.recovery brings the restore code and psycopg, which no command needs just to start."""

from __future__ import annotations

from django.dispatch import receiver

from drills.signals import drill_completed


@receiver(drill_completed, dispatch_uid="lifeboat-drill-drop-restored")
def drop_restored_on_completion(sender, drill, user, **kwargs) -> None:
    from drills.recovery import drop_restored_quietly

    drop_restored_quietly(drill, user)
