"""What Lifeboat protects and what it has made: databases, tiers, policies, runs, artifacts, proofs.

One module per concern; everything is importable from `backups.models` as before.
"""

from backups.models.common import ENV_NAME_RE, NAME_RE, name_validator, validate_cron
from backups.models.leftovers import Leftover
from backups.models.limits import ServerLimit, SlotLease
from backups.models.proofs import Restore, Verification
from backups.models.runs import (
    Artifact,
    ArtifactQuerySet,
    BackupRun,
    BackupRunQuerySet,
    Freshness,
    FreshnessReport,
    freshness_of,
    refresh_verdicts,
    run_log,
)
from backups.models.sources import Database, Server
from backups.models.tiers import BucketDriftCheck, Feature, RetentionPolicy, Tier, TierQuerySet

__all__ = [
    "ENV_NAME_RE", "NAME_RE", "Artifact", "ArtifactQuerySet", "BackupRun", "BackupRunQuerySet", "BucketDriftCheck",
    "Database", "Feature", "Freshness", "FreshnessReport", "Leftover", "Restore", "RetentionPolicy", "Server",
    "ServerLimit", "SlotLease", "Tier", "TierQuerySet", "Verification", "freshness_of", "name_validator",
    "refresh_verdicts", "run_log", "validate_cron",
]
