"""Each rule fires on its condition and resolves when it ends; channels get only the kinds and severities they want."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from alerts import engine
from alerts.models import Alert, Channel, Kind, Notification, Severity
from backups.engine import pipeline
from backups.models import Artifact, BackupRun, Tier
from backups.proof.verification import verify_artifact
from backups.signals import bucket_drift_checked, retention_refused


def open_kinds() -> set[str]:
    return set(Alert.objects.open().values_list("kind", flat=True))


def test_upload_to_a_tier_failed_fires_and_a_later_copy_resolves_it(learning_db, local_tier, settings, tmp_path):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the tier's directory should be")
    offsite = Tier.objects.create(name="offsite", kind=Tier.Kind.LOCAL, path=str(blocker / "sub"))
    learning_db.tiers.set([local_tier, offsite])

    run = pipeline.backup(learning_db)
    assert run.status == BackupRun.Status.SUCCEEDED  # the local copy is good; one tier failing spoils nothing
    alert = Alert.objects.open().get(kind=Kind.UPLOAD_FAILED)
    assert alert.tier == offsite and alert.severity == Severity.WARNING and f"#{run.pk}" in alert.message

    offsite.path = str(tmp_path / "offsite")
    offsite.save()
    pipeline.backup(learning_db)
    assert Kind.UPLOAD_FAILED not in open_kinds()
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None


def test_a_failed_verification_fires_and_a_passing_one_resolves_it(learning_db, local_tier, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    artifact = run.artifacts.get()
    path = Path(artifact.location)
    original = path.read_bytes()
    path.write_bytes(original[:-10] + b"0123456789")  # bit rot on disk

    assert verify_artifact(artifact).status == "failed"  # verification_finished evaluates the rules
    assert Kind.VERIFICATION_FAILED in open_kinds()

    path.write_bytes(original)
    assert verify_artifact(artifact).status == "passed"
    assert Kind.VERIFICATION_FAILED not in open_kinds()


def test_retention_refusal_fires_and_ends_after_the_quiet_window(db, local_tier, settings):
    settings.LIFEBOAT_ALERT_EVENT_HOURS = 24
    retention_refused.send(sender=Tier, tier=local_tier, decision="kept #7: the newest verified copy")
    alert = Alert.objects.open().get(kind=Kind.RETENTION_REFUSED)
    assert "newest verified copy" in alert.message and alert.tier == local_tier

    retention_refused.send(sender=Tier, tier=local_tier, decision="kept #8: legal hold")
    assert Alert.objects.filter(kind=Kind.RETENTION_REFUSED).count() == 1  # the same condition, still open

    engine.evaluate(timezone.now() + timedelta(hours=25))
    assert Kind.RETENTION_REFUSED not in open_kinds()


def test_bucket_drift_fires_on_differences_and_resolves_on_a_clean_check(db):
    tier = Tier.objects.create(name="s3-main", kind=Tier.Kind.S3, bucket="lifeboat-backups")
    bucket_drift_checked.send(sender=Tier, tier=tier, differences=["versioning is Suspended, declared Enabled"])
    alert = Alert.objects.open().get(kind=Kind.BUCKET_DRIFT)
    assert "versioning is Suspended" in alert.message and alert.severity == Severity.CRITICAL

    bucket_drift_checked.send(sender=Tier, tier=tier, differences=[])
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None


@dataclass
class FakeDrill:
    pk: int

    def __str__(self) -> str:
        return f"Drill #{self.pk} (region loss)"


@dataclass
class Attention:
    kind: str
    drill: FakeDrill | None
    message: str


def test_an_overdue_drill_fires_resolves_when_run_and_then_fires_unsigned(team_lead, dba):
    from drills import conduct
    from tests.drill_helpers import make_drill

    now = timezone.now()
    drill = make_drill(team_lead, dba, planned_at=now - timedelta(days=3))  # the real drills app, not a stand-in

    engine.evaluate(now)
    overdue = Alert.objects.open().get(kind=Kind.DRILL_OVERDUE)
    assert overdue.details == {"drill_id": drill.pk} and overdue.link == drill.get_absolute_url()

    conduct.complete(drill, team_lead)
    engine.evaluate(timezone.now())
    assert Kind.DRILL_OVERDUE not in open_kinds()

    engine.evaluate(timezone.now() + timedelta(days=8))  # completed a week ago and nobody signed it
    assert Kind.DRILL_UNSIGNED in open_kinds()


def test_a_broken_rule_neither_fires_nor_resolves_its_kind(db, monkeypatch):
    health = types.ModuleType("drills.health")
    health.attention = lambda now: [Attention("missing", FakeDrill(5), "no drill this quarter")]
    monkeypatch.setitem(sys.modules, "drills.health", health)
    engine.evaluate()
    assert Kind.DRILL_MISSING in open_kinds()

    def broken(now):
        raise RuntimeError("drills table locked")

    health.attention = broken
    engine.evaluate()
    assert Kind.DRILL_MISSING in open_kinds()  # unknown is not the same as resolved


def test_channels_receive_only_their_kinds_and_severities(db, local_tier):
    everything = Channel.objects.create(name="everything", url="json://127.0.0.1:9/a", min_severity=Severity.INFO)
    pager = Channel.objects.create(name="pager", url="json://127.0.0.1:9/b", kinds=[Kind.FRESHNESS],
                                   min_severity=Severity.CRITICAL)
    chat = Channel.objects.create(name="chat", url="json://127.0.0.1:9/c", min_severity=Severity.CRITICAL)
    Channel.objects.create(name="off", url="json://127.0.0.1:9/d", enabled=False)

    retention_refused.send(sender=Tier, tier=local_tier, decision="kept #1")  # a warning
    assert set(Notification.objects.values_list("channel__name", flat=True)) == {"everything"}
    assert pager.wants(Kind.FRESHNESS, Severity.CRITICAL) and not pager.wants(Kind.BACKUP_FAILED, Severity.CRITICAL)
    assert chat.wants(Kind.BACKUP_FAILED, Severity.CRITICAL) and not chat.wants(Kind.UPLOAD_FAILED, Severity.WARNING)
    assert not everything.wants(Kind.BACKUP_SUCCEEDED, Severity.INFO)  # successes only where asked for


def test_artifact_failure_is_recorded_even_when_the_whole_run_fails(learning_db, settings, tmp_path):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    blocker = tmp_path / "file"
    blocker.write_text("x")
    only = Tier.objects.create(name="broken", kind=Tier.Kind.LOCAL, path=str(blocker / "sub"))
    Tier.objects.exclude(pk=only.pk).update(enabled=False)
    run = pipeline.backup(learning_db)
    assert run.status == BackupRun.Status.FAILED and not Artifact.objects.filter(run=run).exists()
    assert Kind.BACKUP_FAILED in open_kinds()
