"""After every job, evaluate the alert rules; record what tiers push (retention refusals, bucket drift).

A receiver runs inside the job that sent the signal: it logs its own failures and never raises, so an alert
problem cannot spoil a backup. The rules and the delivery code are imported when a signal arrives, not by every
process that loads the apps (AlertsConfig.ready imports this module).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.dispatch import receiver
from django.utils import timezone

from alerts.models import Kind, Observation
from audit.signals import audit_chain_checked
from backups.models import BackupRun
from backups.signals import (
    artifact_failed,
    backup_finished,
    bucket_drift_checked,
    retention_refused,
    verification_finished,
)

log = logging.getLogger(__name__)


def never_raises(func: Callable) -> Callable:
    @wraps(func)
    def wrapper(*args, **kwargs) -> None:
        try:
            func(*args, **kwargs)
        except Exception:  # deliberate: alerting trouble is logged, the job that sent the signal goes on
            log.exception("alerts: %s failed", func.__name__)

    return wrapper


def evaluate() -> None:
    from alerts import engine

    engine.evaluate()


@receiver(backup_finished, dispatch_uid="alerts-after-backup")
@never_raises
def after_backup(sender, run: BackupRun, **kwargs) -> None:
    if run.status == BackupRun.Status.SUCCEEDED:
        from alerts import delivery

        delivery.notify_success(run)
    evaluate()


@receiver(artifact_failed, dispatch_uid="alerts-after-artifact-failed")
@receiver(verification_finished, dispatch_uid="alerts-after-verification")
@never_raises
def after_job(sender, **kwargs) -> None:
    evaluate()


@receiver(retention_refused, dispatch_uid="alerts-retention-refused")
@never_raises
def after_retention_refused(sender, tier, decision, **kwargs) -> None:
    key = f"{Kind.RETENTION_REFUSED}:tier:{tier.pk}"
    previous = Observation.objects.filter(key=key).first()
    refusals = list(previous.details.get("refusals", []))[-9:] if previous else []
    # backups.retention.planner.Decision: the copy and the safety rule's reason ("kept: the newest verified copy...").
    copy_id, reason = getattr(decision, "copy_id", None), getattr(decision, "reason", str(decision))
    said = f"copy #{copy_id} {reason}" if copy_id is not None else reason
    refusals.append(said)
    Observation.objects.update_or_create(key=key, defaults={
        "kind": Kind.RETENTION_REFUSED, "tier": tier, "active": True, "observed_at": timezone.now(),
        "message": f"Retention in {tier.name} kept a copy it wanted to delete: {said}",
        "details": {"refusals": refusals},
    })
    evaluate()


@receiver(bucket_drift_checked, dispatch_uid="alerts-bucket-drift")
@never_raises
def after_bucket_drift_checked(sender, tier, differences, **kwargs) -> None:
    differences = [str(d) for d in differences]
    Observation.objects.update_or_create(key=f"{Kind.BUCKET_DRIFT}:tier:{tier.pk}", defaults={
        "kind": Kind.BUCKET_DRIFT, "tier": tier, "active": bool(differences), "observed_at": timezone.now(),
        "message": f"Bucket {tier.bucket or tier.name} differs from its declared policy: " + "; ".join(differences),
        "details": {"differences": differences},
    })
    evaluate()


@receiver(audit_chain_checked, dispatch_uid="alerts-audit-chain")
@never_raises
def after_audit_chain_checked(sender, report, **kwargs) -> None:
    Observation.objects.update_or_create(key=Kind.AUDIT_CHAIN_BROKEN.value, defaults={
        "kind": Kind.AUDIT_CHAIN_BROKEN, "tier": None, "active": not report.intact, "observed_at": timezone.now(),
        "message": f"The audit trail's hash chain is broken: {report.problem}" if report.problem else "",
        "details": report.as_dict(),
    })
    evaluate()
