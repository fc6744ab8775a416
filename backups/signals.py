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
# sender=Tier, tier=<Tier>, decision=<retention decision>: retention wanted to delete a copy but a safety rule
# (newest verified copy, newer copies unverified, legal hold) kept it.
retention_refused = Signal()
# sender=Tier, tier=<Tier>, differences=<list[str]>: a bucket's live policy was compared with the declared one
# (an empty list means it matches).
bucket_drift_checked = Signal()
