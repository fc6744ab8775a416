"""Machine A's weeks and machine B's account of them, for tests/test_lifeboat_survives_its_own_loss.py.

Run inside `manage.py shell -c` of each machine (its own SQLite database and directories), so time_machine moves
only that process's clock and the bucket (moto's server on loopback) is the only thing the two machines share.
Each function writes what it saw as JSON for the test to compare.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import time_machine
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone

GLACIER_AFTER_DAYS = 3  # the story's lifecycle: copies older than this in the tier's prefix go to GLACIER
KEEP_DAYS = 4  # the S3 tier's retention: older copies are deleted, the first of each month moves to the archive


def story_start(now: datetime) -> datetime:
    """Five days before the first of last month: the days cross a month boundary and end in the past."""
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return last_month - timedelta(days=5)


def _at(when: datetime):
    return time_machine.travel(when, tick=False)


def _person(name: str, role: str) -> User:
    user = User.objects.create_user(name, password="correct-horse-battery-staple")
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def live_weeks(*, dsn: str, bucket: str, endpoint: str, out: str, days: int = 10) -> None:
    from audit.models import AuditSegment
    from audit.segments import ship_segments
    from audit.tasks import check_audit_chain
    from backups.catalog.selfbackup import daily_self_backup
    from backups.engine import pipeline
    from backups.models import BackupRun, Database, Tier
    from backups.retention.applier import apply_retention
    from drills import conduct
    from drills.models import Drill
    from evidence.export import export_to_file
    from evidence.period import Scope
    from tests.drill_helpers import make_drill, tick_all

    start = story_start(timezone.now())
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    with _at(start):
        s3 = Tier.objects.get(name="s3")
        s3.bucket, s3.endpoint_url, s3.enabled = bucket, endpoint, True
        s3.glacier_after_days = GLACIER_AFTER_DAYS
        s3.save()
        s3.retention.keep_days, s3.retention.keep_last = KEEP_DAYS, 2
        s3.retention.save()
        local = Tier.objects.get(name="local")
        local.retention.keep_days, local.retention.keep_last = 2, 1
        local.retention.save()
        call_command("add_database", "learning", "--dsn", dsn)
        database = Database.objects.get(name="learning")
        lead, scribe, approver = (_person("lee", "Team lead"), _person("dana", "DBA"),
                                  _person("alex", "Team lead"))
    exports, cold = Path(out).parent, []
    for day in range(days):
        today = start + timedelta(days=day)
        with _at(today + timedelta(hours=2)):
            run = pipeline.backup(database, trigger=BackupRun.Trigger.SCHEDULE)
            assert run.status == "succeeded", run.error
        with _at(today + timedelta(hours=2, minutes=30)):
            for tier in (local, s3):
                assert apply_retention(tier).errors == []
        if day == days - 1:  # the lifecycle, as S3 would have applied it by now (moto never does)
            cold = _lifecycle(client, s3, today + timedelta(hours=2, minutes=40))
        with _at(today + timedelta(hours=3)):
            daily_self_backup()  # the newest one still believes the cold copies are live
        with _at(today + timedelta(hours=5, minutes=7)):
            ship_segments()
        with _at(today + timedelta(hours=5, minutes=17)):
            assert check_audit_chain().intact
        if day == 6:
            with _at(today + timedelta(hours=10)):
                drill = make_drill(lead, scribe, database=database, approver=approver)
                tick_all(drill, lead)
                conduct.complete(drill, lead)
                conduct.sign_off(Drill.objects.get(pk=drill.pk), approver, "reviewed, RTO met")
        if day == 8:
            with _at(today + timedelta(hours=11)):
                scope = Scope.build(start.date(), today.date(), [])
                manifest, _, _ = export_to_file(scope, exports / "before-the-loss.zip", exported_by="auditor-run")
                assert manifest["audit_chain"]["verification"]["intact"]
    # The last hours: a backup the self-backup never saw, events no segment holds, a head anchored in S3. Then loss.
    last = start + timedelta(days=days - 1)
    with _at(last + timedelta(hours=6)):
        final = pipeline.backup(database, trigger=BackupRun.Trigger.SCHEDULE)
        assert final.status == "succeeded", final.error
    with _at(last + timedelta(hours=6, minutes=17)):
        head = check_audit_chain()
        assert head.intact
    shipped = AuditSegment.objects.order_by("-last_seq").first()
    Path(out).write_text(json.dumps({
        "runs": {str(r.backup_uuid): r.status for r in BackupRun.objects.exclude(database__name="lifeboat")},
        "cold": cold,
        "head_count": head.count, "head_hash": head.last_hash, "last_shipped_seq": shipped.last_seq,
        "signoffs": list(_signoff_ids()),
        "start": start.date().isoformat(), "end": last.date().isoformat(),
    }))


def _signoff_ids():
    from drills.models import SignOff

    return SignOff.objects.values_list("pk", flat=True)


def _lifecycle(client, s3, now: datetime) -> list[str]:
    """Backups older than GLACIER_AFTER_DAYS (in the tier's prefix and the archive prefix) go to GLACIER, as the
    bucket's lifecycle moves them; Lifeboat is not told. Returns their runs' UUIDs."""
    from backups.models import Artifact

    moved = []
    for artifact in Artifact.objects.live().filter(tier=s3, created_at__lt=now - timedelta(days=GLACIER_AFTER_DAYS)):
        client.copy_object(Bucket=s3.bucket, Key=artifact.location, StorageClass="GLACIER",
                           CopySource={"Bucket": s3.bucket, "Key": artifact.location}, MetadataDirective="COPY")
        moved.append(str(artifact.run.backup_uuid))
    return sorted(moved)


def account(*, out: str) -> None:
    """Machine B's view after the recovery: runs, which copies are archived, whether signed drills still match."""
    from backups.models import Artifact, BackupRun
    from drills.models import SignOff

    Path(out).write_text(json.dumps({
        "runs": {str(r.backup_uuid): r.status for r in BackupRun.objects.exclude(database__name="lifeboat")},
        "archived": sorted(str(a.run.backup_uuid) for a in Artifact.objects.filter(status="archived")),
        "signoffs": {s.pk: s.record_intact() for s in SignOff.objects.all()},
    }))
