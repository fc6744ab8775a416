"""Applying retention: load a tier's copies as plain data, plan (retention.plan), then act on the plan.

Deletions are hard in storage (an S3 delete names the version, so nothing lingers as a noncurrent version) and
soft in the records (Artifact status `deleting` then `deleted`, deleted_at/by/reason), one audit event each; the
sidecar manifest goes with its artifact, on deletion and on the archive move. A copy a safety rule kept is
announced with the retention_refused signal. The month's copy of an S3 tier with an archive prefix is moved
there, out of reach of the lifecycle rule's expiry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit import trail
from backups.errors import LifeboatError
from backups.models import Artifact, BackupRun, Feature, RetentionPolicy, Tier
from backups.models.runs import newest_verdict
from backups.retention import planner as retention
from backups.signals import retention_refused
from backups.storage import storage_for

log = logging.getLogger(__name__)


def retention_tiers(name: str | None = None) -> list[Tier]:
    """Enabled tiers Lifeboat stores copies in (RDS keeps its own backups: read, never enforced)."""
    tiers = Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS).select_related("retention")
    if name:
        tiers = Tier.objects.filter(name=name).select_related("retention")
    return list(tiers)


def policy_for(tier: Tier) -> retention.Policy | None:
    try:
        policy: RetentionPolicy = tier.retention
    except RetentionPolicy.DoesNotExist:
        return None
    return retention.Policy(keep_days=policy.keep_days, keep_last=policy.keep_last,
                            monthly_months=policy.monthly_months, monthly_forever=policy.monthly_forever,
                            legal_hold=policy.legal_hold)


def copies_for(tier: Tier) -> list[retention.Copy]:
    """The tier's live good copies as the planner's plain values (one query of tuples, no model instances), each
    with its newest decided verification: a copy that passed once and failed since is FAILED, so it is never taken
    for "the newest verified copy" while older good ones are deleted. Read from the verifications themselves, not
    the last_verdict column the pages use: what deletes copies trusts no kept value."""
    rows = (Artifact.objects.live().filter(tier=tier, run__status=BackupRun.Status.SUCCEEDED)
            .annotate(verdict=newest_verdict())
            .values_list("pk", "run__database__name", "run__started_at", "run__created_at", "verdict", "legal_hold",
                         "location"))
    return [retention.Copy(id=pk, database=database, taken_at=started or created,
                           verification=retention.Verdict(verdict) if verdict else retention.Verdict.NONE,
                           legal_hold=legal_hold,
                           archived=bool(tier.archive_prefix) and location.startswith(tier.archive_prefix))
            for pk, database, started, created, verdict, legal_hold, location in rows]


def plan_for_tier(tier: Tier, now: datetime | None = None) -> retention.Plan:
    """The plan a run would carry out now: the dry run, the tier page and the real run all come here."""
    policy = policy_for(tier)
    if policy is None or not tier.can(Feature.ARTIFACTS):
        return retention.Plan()
    return retention.plan(copies_for(tier), policy, now or timezone.now())


@dataclass
class RetentionReport:
    tier: Tier
    plan: retention.Plan
    dry_run: bool
    deleted: list[retention.Decision] = field(default_factory=list)
    archived: list[retention.Decision] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "tier": self.tier.name, "dry_run": self.dry_run,
            "decisions": [d.as_dict() for d in self.plan.decisions],
            "would_delete" if self.dry_run else "deleted": [d.copy_id for d in
                                                           (self.plan.deletions if self.dry_run else self.deleted)],
            "archived": [d.copy_id for d in self.archived],
            "refused": [d.copy_id for d in self.plan.refusals],
            "errors": self.errors,
        }


def apply_retention(tier: Tier, *, now: datetime | None = None, actor=None, dry_run: bool = False) -> RetentionReport:
    now = now or timezone.now()
    report = RetentionReport(tier, plan_for_tier(tier, now), dry_run)
    if dry_run:
        return report
    artifacts = Artifact.objects.select_related("run__database", "tier").in_bulk(
        [d.copy_id for d in report.plan.decisions])
    storage = storage_for(tier) if report.plan.deletions or report.plan.to_archive else None
    for decision in report.plan.decisions:
        artifact = artifacts[decision.copy_id]
        try:
            if decision.delete:
                delete_copy(storage, artifact, decision, actor, now)
                report.deleted.append(decision)
            elif decision.archive and tier.can(Feature.ARCHIVE_PREFIX) and tier.archive_prefix:
                archive_copy(storage, artifact, decision, actor)
                report.archived.append(decision)
        except LifeboatError as exc:
            log.warning("retention in %s: copy %s: %s", tier, artifact.pk, exc)
            report.errors.append(f"copy {artifact.pk} ({artifact.location}): {exc}")
        if decision.refused:
            retention_refused.send(sender=Tier, tier=tier, decision=decision)
    trail.record("retention.applied", actor=actor, target=tier,
                 summary=f"retention in {tier.name}: {len(report.deleted)} deleted, "
                         f"{len(report.plan.refusals)} kept by a safety rule, {len(report.errors)} errors",
                 details={"deleted": [d.copy_id for d in report.deleted],
                          "archived": [d.copy_id for d in report.archived],
                          "refused": [d.as_dict() for d in report.plan.refusals], "errors": report.errors})
    return report


def delete_copy(storage, artifact: Artifact, decision: retention.Decision, actor, now: datetime) -> None:
    """The catalog first, storage second (as pgBackRest's expire): mark the copy `deleting`, remove its object,
    globals and manifest, then close the row. A crash in between leaves a `deleting` row for the sweep, never a
    live copy that no longer exists."""
    if not artifact.is_live:
        return
    mark_deleting(artifact, trail.actor_name(actor), f"{decision.rule}: {decision.reason}")
    finish_deletion(storage, artifact, actor, now, rule=str(decision.rule))


def mark_deleting(artifact: Artifact, deleted_by: str, reason: str) -> None:
    with transaction.atomic():
        artifact.status = Artifact.Status.DELETING
        artifact.deleted_by = deleted_by
        artifact.delete_reason = reason
        artifact.save(update_fields=["status", "deleted_by", "delete_reason"])


def remove_from_storage(storage, artifact: Artifact) -> None:
    """The object, its globals and its manifest; deleting what is already gone is no error."""
    storage.delete(artifact.location, artifact.version_id)
    if artifact.globals_location:
        storage.delete(artifact.globals_location)
    if artifact.manifest_location:
        storage.delete(artifact.manifest_location)


def finish_deletion(storage, artifact: Artifact, actor, now: datetime, rule: str = "") -> None:
    """Remove a `deleting` copy from storage and close its row (retention, or the sweep after a crash)."""
    remove_from_storage(storage, artifact)
    artifact.status = Artifact.Status.DELETED
    artifact.deleted_at = now
    artifact.save(update_fields=["status", "deleted_at"])
    trail.record("retention.deleted", actor=actor, target=artifact,
                 summary=f"deleted {artifact.run.database.name} #{artifact.run_id} from {artifact.tier.name}: "
                         f"{artifact.delete_reason}",
                 details={"tier": artifact.tier.name, "database": artifact.run.database.name, "run": artifact.run_id,
                          "location": artifact.location, "version_id": artifact.version_id,
                          "manifest": artifact.manifest_location, "rule": rule, "reason": artifact.delete_reason})


def archive_copy(storage, artifact: Artifact, decision: retention.Decision, actor) -> None:
    """Move the month's copy, its globals and its manifest under the archive prefix; record where they live."""
    old = artifact.location
    moved = storage.archive(artifact.location, artifact.version_id)
    if artifact.globals_location:
        artifact.globals_location = storage.archive(artifact.globals_location, "").location
    if artifact.manifest_location:
        artifact.manifest_location = storage.archive(artifact.manifest_location, "").location
    artifact.location, artifact.version_id, artifact.etag = moved.location, moved.version_id, moved.etag
    artifact.storage_class = moved.storage_class
    artifact.save(update_fields=["location", "version_id", "etag", "storage_class", "globals_location",
                                 "manifest_location"])
    trail.record("retention.archived", actor=actor, target=artifact,
                 summary=f"moved {artifact.run.database.name} #{artifact.run_id} to the monthly archive",
                 details={"tier": artifact.tier.name, "from": old, "to": moved.location,
                          "manifest": artifact.manifest_location,
                          "version_id": moved.version_id, "reason": decision.reason})
