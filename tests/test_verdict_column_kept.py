"""Each copy's last_verdict column (what the overview, the tier page, /metrics and the history read instead of a
subquery per copy) equals its newest decided verification however the verifications are written; a bulk write
that sends no signal is found and repaired by `manage.py refresh_verdicts`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Tier, Verification


@pytest.fixture
def copy(db) -> Artifact:
    database = Database.objects.create(name="shop", dbname="shop")
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED)
    return Artifact.objects.create(run=run, tier=Tier.objects.get(name="local"), location="/x/1")


def verdict(copy: Artifact) -> str:
    return Artifact.objects.values_list("last_verdict", flat=True).get(pk=copy.pk)


def test_the_column_follows_every_verification_saved_or_deleted(copy):
    now = timezone.now()
    assert verdict(copy) == ""
    passed = Verification.objects.create(artifact=copy, status="passed", created_at=now - timedelta(hours=2))
    assert verdict(copy) == "passed"
    running = Verification.objects.create(artifact=copy, status="running", created_at=now)
    assert verdict(copy) == "passed"  # undecided: counts neither way
    running.status = Verification.Status.FAILED
    running.save()
    assert verdict(copy) == "failed"
    assert not Artifact.objects.filter(pk=copy.pk).verified().exists()
    running.delete()
    assert verdict(copy) == "passed" and Artifact.objects.filter(pk=copy.pk).verified().exists()
    passed.delete()
    assert verdict(copy) == ""


def test_refresh_verdicts_finds_and_repairs_a_bulk_write(copy, capsys):
    Verification.objects.bulk_create([Verification(artifact=copy, status="failed")])  # no post_save
    assert verdict(copy) == ""

    with pytest.raises(SystemExit) as exit_status:
        call_command("refresh_verdicts", "--check")
    assert exit_status.value.code == 1 and f"[{copy.pk}]" in capsys.readouterr().out

    call_command("refresh_verdicts")
    assert verdict(copy) == "failed"
    call_command("refresh_verdicts", "--check")
    assert "0 copies with a stale verdict" in capsys.readouterr().out
