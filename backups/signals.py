"""Signals other apps (alerts, audit, catalog) listen to, so the pipeline does not import them."""

from __future__ import annotations

from django.dispatch import Signal

# sender=BackupRun, run=<BackupRun>: sent once a run has ended, whatever its outcome.
backup_finished = Signal()
# sender=Artifact, artifact=<Artifact>: a copy could not be stored in a tier (the run may still be good).
artifact_failed = Signal()
# sender=Verification, verification=<Verification>
verification_finished = Signal()
# sender=Restore, restore=<Restore>
restore_finished = Signal()
