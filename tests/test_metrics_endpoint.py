"""/metrics: Prometheus text that prometheus-client's own parser reads, only for the bearer of the token."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backups.engine import pipeline
from backups.models import Artifact, BackupRun, Database
from backups.proof.verification import verify_artifact

TOKEN = "scrape-token-for-tests"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


@pytest.fixture
def token(settings):
    settings.LIFEBOAT_METRICS_TOKEN = TOKEN
    return TOKEN


def test_metrics_hold_every_series_per_database_and_tier(client, learning_db, local_tier, token, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    good = pipeline.backup(learning_db)
    verification = verify_artifact(good.artifacts.get())
    gone = Database.objects.create(name=f"gone_{uuid.uuid4().hex[:6]}", host="127.0.0.1", port=1, dbname="x")
    assert pipeline.backup(gone).status == BackupRun.Status.FAILED
    BackupRun.objects.create(database=learning_db, status=BackupRun.Status.QUEUED)

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = samples(response.text)
    pair = (("database", learning_db.name), ("tier", "local"))
    good.refresh_from_db()
    verification.refresh_from_db()
    artifact = Artifact.objects.get(run=good)
    assert found[("lifeboat_backup_last_success_timestamp_seconds", pair)] == pytest.approx(
        good.finished_at.timestamp())
    assert found[("lifeboat_backup_last_verified_timestamp_seconds", pair)] == pytest.approx(
        verification.finished_at.timestamp())
    assert found[("lifeboat_backup_last_size_bytes", pair)] == artifact.size_bytes > 0
    assert found[("lifeboat_backup_last_duration_seconds", pair)] == pytest.approx(good.duration.total_seconds())
    assert found[("lifeboat_backup_late", pair)] == 0
    assert found[("lifeboat_backup_failures_total", (("database", gone.name),))] == 1
    assert found[("lifeboat_backup_failures_total", (("database", learning_db.name),))] == 0
    assert found[("lifeboat_backup_running", (("database", learning_db.name),))] == 1
    assert found[("lifeboat_jobs_running", (("kind", "backup"),))] == 1
    assert found[("lifeboat_backup_rpo_seconds", (("database", learning_db.name),))] == 24 * 3600
    assert found[("lifeboat_alerts_open", (("kind", "backup_failed"), ("severity", "critical")))] == 1


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer "])
def test_metrics_without_the_right_token_is_401(client, db, token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"lifeboat_" not in response.content


def test_metrics_stay_closed_when_no_token_is_configured(client, db, settings):
    settings.LIFEBOAT_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_give_each_scenarios_latest_real_drill_recovery_time(client, token, team_lead, dba):
    from datetime import timedelta

    from django.utils import timezone

    from drills.models import Drill
    from tests.drill_helpers import make_drill

    now = timezone.now()
    older = make_drill(team_lead, dba, planned_at=now - timedelta(days=40))
    newer = make_drill(team_lead, dba, planned_at=now - timedelta(days=5))
    rehearsal = make_drill(team_lead, dba, planned_at=now - timedelta(days=1), simulated=True)
    # Measured fields as the drill's own restore would leave them (the restore itself is tested in the drills tests).
    for drill, seconds, days in ((older, 1500.0, 40), (newer, 840.0, 5), (rehearsal, 60.0, 1)):
        Drill.objects.filter(pk=drill.pk).update(recovery_seconds=seconds, completed_at=now - timedelta(days=days))

    found = samples(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode())

    drills = {labels: v for (name, labels), v in found.items() if name == "lifeboat_drill_recovery_seconds"}
    assert drills == {(("scenario", str(newer.scenario)),): 840.0}


def test_disabled_databases_are_not_reported_late(client, local_tier, token):
    """An imported database is disabled: it is history, not something that should be backing up now."""
    from datetime import timedelta

    from django.utils import timezone

    old = Database.objects.create(name="imported_old", dbname="imported_old", enabled=False)
    Database.objects.create(name="active_new", dbname="active_new")
    long_ago = timezone.now() - timedelta(days=90)
    run = BackupRun.objects.create(database=old, status=BackupRun.Status.SUCCEEDED, trigger=BackupRun.Trigger.IMPORT,
                                   created_at=long_ago, started_at=long_ago, finished_at=long_ago)
    Artifact.objects.create(run=run, tier=local_tier, location="/backups/imported_old.dump.zst", size_bytes=1)

    found = samples(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode())

    late = {dict(labels)["database"]: value for (name, labels), value in found.items()
            if name == "lifeboat_backup_late"}
    assert set(late) == {"active_new"}


def test_metrics_make_as_many_queries_for_forty_databases_as_for_four(client, local_tier, token):
    """Bounded at fleet size: the pairs come from the overview's matrix, not five queries per database and tier."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backups.models import Tier

    extra = Tier.objects.create(name="chosen", kind=Tier.Kind.LOCAL, path="/tmp/lifeboat-metrics-chosen")

    def scrape() -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as queries:
            text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()
        return len(queries), samples(text)

    for n in range(4):
        Database.objects.create(name=f"few{n}", dbname=f"few{n}")
    Database.objects.get(name="few0").tiers.add(extra)  # its chosen tier only, as Database.backup_tiers says
    few, found = scrape()
    late = {labels for (name, labels) in found if name == "lifeboat_backup_late"}
    assert (("database", "few0"), ("tier", "chosen")) in late
    assert (("database", "few0"), ("tier", "local")) not in late
    assert {(("database", "few1"), ("tier", "local")), (("database", "few1"), ("tier", "chosen"))} <= late
    for n in range(36):
        Database.objects.create(name=f"many{n}", dbname=f"many{n}")
    many, found = scrape()
    assert many == few
    assert len([1 for (name, _) in found if name == "lifeboat_backup_late"]) == 1 + 39 * 2
