"""Applying retention: the dry run and the tier page show exactly what the real run then deletes."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from backups.models import Artifact, BackupRun, Database, Verification
from backups.signals import retention_refused
from tests.helpers import run_command


@pytest.fixture
def daily_copies(local_tier, backup_root):
    """40 daily copies of one database in the local tier (7 days policy), real files; the newest verified
    one is 20 days old and the copies after it failed verification for database `b`."""
    now = timezone.now()
    copies = {}
    for name in ("a", "b"):
        db = Database.objects.create(name=f"ret_{name}", dbname=f"ret_{name}")
        for age in range(40):
            started = now - timedelta(days=age, hours=1)
            run = BackupRun.objects.create(database=db, status=BackupRun.Status.SUCCEEDED, started_at=started,
                                           created_at=started, finished_at=started)
            path = backup_root / f"{db.name}_{age}.dump.zst"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * 10)
            artifact = Artifact.objects.create(run=run, tier=local_tier, location=str(path), size_bytes=10)
            if name == "a" and age == 0 or name == "b" and age == 20:
                Verification.objects.create(artifact=artifact, status=Verification.Status.PASSED)
            if name == "b" and age in (2, 5):
                Verification.objects.create(artifact=artifact, status=Verification.Status.FAILED)
            copies[(name, age)] = artifact
    return copies


def test_dry_run_page_and_real_run_agree(daily_copies, local_tier, client, dba, tasks_inline):
    refused = []

    def listen(sender, tier, decision, **kwargs):
        refused.append(decision.copy_id)

    retention_refused.connect(listen, dispatch_uid="test-refused")
    try:
        with time_machine.travel(timezone.now(), tick=False):
            code, out, _ = run_command("apply_retention", "--tier", "local", "--dry-run", "--json")
            assert code == 0
            dry = json.loads(out)["tiers"][0]
            would_delete = sorted(dry["would_delete"])

            client.force_login(dba)
            page = client.get(local_tier.get_absolute_url()).content.decode()
            shown = page.split('data-would-delete="')[1].split('"')[0]
            assert sorted(int(i) for i in shown.split(",") if i) == would_delete
            assert Artifact.objects.live().count() == 80  # the dry run and the page changed nothing
            assert refused == []

            response = client.post(f"/backups/tiers/{local_tier.pk}/retention/")
            assert response.status_code == 302
    finally:
        retention_refused.disconnect(dispatch_uid="test-refused")

    deleted = Artifact.objects.filter(deleted_at__isnull=False)
    assert sorted(deleted.values_list("pk", flat=True)) == would_delete
    # database a: 7 days kept, the rest deleted; database b: newest judged copy failed -> nothing deleted
    a_deleted = {a.run.database.name for a in deleted}
    assert a_deleted == {"ret_a"} and deleted.count() == 33
    assert all(not os.path.exists(a.location) for a in deleted)
    assert all(a.deleted_by == dba.username and "older than 7 days" in a.delete_reason for a in deleted)
    assert AuditEvent.objects.filter(action="retention.deleted").count() == 33
    assert daily_copies[("b", 20)].pk in refused and daily_copies[("b", 30)].pk in refused

    code, out, _ = run_command("apply_retention", "--tier", "local", "--json", "--actor", dba.username)
    assert json.loads(out)["tiers"][0]["deleted"] == []  # a second run deletes nothing more


def test_unknown_tier_is_a_one_line_error(db):
    code, _, err = run_command("apply_retention", "--tier", "nope")
    assert code == 1 and "unknown tier 'nope'" in err
