"""What the API starts is what the dashboard shows, done by the same functions, credited to the token's owner."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import Scope
from audit.models import AuditEvent
from backups.engine import pipeline
from backups.models import BackupRun, Database, Restore, Tier, Verification
from tests.api_helpers import FAST_HASHERS, assert_problem, bearer, token_for
from tests.helpers import table_counts

JSON = "application/json"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def ci_token(dba) -> str:
    return token_for(dba, Scope.OPERATE, name="ci-pre-migration")


def test_a_backup_started_through_the_api_is_the_run_the_dashboard_shows(client, dba, learning_db, ci_token,
                                                                          tasks_inline, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    response = client.post(f"/api/v1/databases/{learning_db.name}/backups", **bearer(ci_token))

    assert response.status_code == 202, response.content
    run = BackupRun.objects.get(database=learning_db)
    assert response.json()["url"] == response["Location"] == f"/api/v1/runs/{run.pk}"
    assert run.requested_by == dba and run.trigger == BackupRun.Trigger.API
    polled = client.get(response["Location"], **bearer(ci_token)).json()
    assert polled["status"] == "succeeded" and polled["requested_by"] == "dana-dba"
    assert [c["tier"] for c in polled["copies"]] == ["local"] and polled["copies"][0]["sha256"] == run.sha256

    client.force_login(dba)
    history = client.get(f"/backups/?database={learning_db.name}").content.decode()
    assert f'href="/backups/runs/{run.pk}/"' in history
    assert polled["web_url"] == run.get_absolute_url()

    asked = AuditEvent.objects.get(action="api.backup_requested")
    assert asked.actor == "dana-dba (token: ci-pre-migration)"
    assert asked.details["owner"] == "dana-dba" and asked.details["token"] == "ci-pre-migration"
    assert asked.target_id == str(run.pk)
    done = AuditEvent.objects.get(action="backup.succeeded", target_id=str(run.pk))
    assert done.actor == "dana-dba"


def test_a_second_backup_while_one_is_queued_is_409_with_that_runs_url(client, learning_db, ci_token):
    first = client.post(f"/api/v1/databases/{learning_db.name}/backups", **bearer(ci_token))
    assert first.status_code == 202

    second = client.post(f"/api/v1/databases/{learning_db.name}/backups", **bearer(ci_token))

    body = assert_problem(second, 409)
    assert body["run_url"] == first["Location"] == second["Location"]
    assert "already queued" in body["detail"]
    assert BackupRun.objects.filter(database=learning_db).count() == 1


def test_a_copy_is_verified_then_two_tables_restored_through_the_api(client, dba, learning_db, ci_token,
                                                                    tasks_inline, settings, pg_server):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    copy = run.artifacts.get()
    target = f"{learning_db.dbname}_api"

    checked = client.post(f"/api/v1/copies/{copy.pk}/verifications", **bearer(ci_token))
    assert checked.status_code == 202, checked.content
    verification = client.get(checked["Location"], **bearer(ci_token)).json()
    assert verification["status"] == Verification.Status.PASSED, verification["error"]
    assert verification["requested_by"] == "dana-dba" and verification["copy_id"] == copy.pk

    try:
        restored = client.post(f"/api/v1/copies/{copy.pk}/restores", data=json.dumps(
            {"target_database": target, "tables": ["users", "lessons"]}), content_type=JSON, **bearer(ci_token))
        assert restored.status_code == 202, restored.content
        job = client.get(restored["Location"], **bearer(ci_token)).json()
        assert job["status"] == Restore.Status.SUCCEEDED, job["error"]
        assert job["mode"] == Restore.Mode.TABLES and job["requested_by"] == "dana-dba"
        assert table_counts(pg_server, target, ["users", "lessons"]) == {"users": 250, "lessons": 40}
    finally:
        pg_server.drop_database(target)
    detail = client.get(f"/api/v1/runs/{run.pk}", **bearer(ci_token)).json()
    assert detail["verified"] is True
    assert [v["id"] for v in detail["copies"][0]["verifications"]] == [verification["id"]]
    assert [r["id"] for r in detail["copies"][0]["restores"]] == [job["id"]]
    assert {e.action for e in AuditEvent.objects.filter(actor="dana-dba (token: ci-pre-migration)")} >= {
        "api.verification_requested", "api.restore_requested"}


def test_a_restore_over_the_protected_database_is_refused_422_and_nothing_is_queued(client, learning_db,
                                                                                  ci_token):
    run = BackupRun.objects.create(database=learning_db, status="succeeded", started_at=timezone.now())
    copy = run.artifacts.create(tier=Tier.objects.get(name="local"), location="/nowhere")
    response = client.post(f"/api/v1/copies/{copy.pk}/restores", data=json.dumps(
        {"target_database": learning_db.dbname}), content_type=JSON, **bearer(ci_token))
    assert "protect" in assert_problem(response, 422)["detail"]
    assert not Restore.objects.exists()


def test_an_auditor_exports_evidence_through_the_api_and_downloads_it(client, auditor, tasks_inline, settings,
                                                                       tmp_path):
    settings.LIFEBOAT_EVIDENCE_DIR = tmp_path / "evidence"
    plaintext = token_for(auditor, Scope.OPERATE, name="quarterly-audit")
    today = timezone.now().date()
    asked = client.post("/api/v1/evidence-exports", data=json.dumps(
        {"since": str(today - timedelta(days=30)), "until": str(today)}), content_type=JSON, **bearer(plaintext))
    assert asked.status_code == 202, asked.content

    status = client.get(asked["Location"], **bearer(plaintext)).json()
    assert status["status"] == "done", status["error"]
    download = client.get(status["download_url"], **bearer(plaintext))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    package = tmp_path / "package.zip"
    package.write_bytes(b"".join(download.streaming_content))
    assert "manifest.json" in zipfile.ZipFile(package).namelist()
    events = {e.action: e for e in AuditEvent.objects.filter(actor="audrey-auditor (token: quarterly-audit)")}
    assert {"api.evidence_export_requested", "evidence.downloaded"} <= set(events)
    assert AuditEvent.objects.get(action="evidence.exported").actor == "audrey-auditor"


def test_an_evidence_period_that_ends_before_it_starts_is_422(client, auditor):
    plaintext = token_for(auditor, Scope.OPERATE)
    response = client.post("/api/v1/evidence-exports", data=json.dumps(
        {"since": "2026-02-01", "until": "2026-01-01"}), content_type=JSON, **bearer(plaintext))
    assert "before it starts" in assert_problem(response, 422)["detail"]


def test_an_admin_creates_and_changes_a_database_and_the_configuration_audit_names_the_token(client, admin_user):
    plaintext = token_for(admin_user, Scope.ADMIN, name="inventory-sync")
    created = client.post("/api/v1/databases", data=json.dumps(
        {"name": "billing", "host": "db.internal", "dbname": "billing", "password_env": "LIFEBOAT_BILLING_PW",
         "tiers": ["local"]}), content_type=JSON, **bearer(plaintext))
    assert created.status_code == 201, created.content
    assert created.json()["tiers"] == ["local"] and created["Location"] == "/api/v1/databases/billing"

    changed = client.patch("/api/v1/databases/billing", data=json.dumps({"rpo_hours": 4, "schedule": "0 * * * *"}),
                           content_type=JSON, **bearer(plaintext))
    assert changed.status_code == 200 and changed.json()["rpo_hours"] == 4
    assert Database.objects.get(name="billing").schedule == "0 * * * *"
    actors = set(AuditEvent.objects.filter(target_type="backups.database").values_list("actor", flat=True))
    assert actors == {"ada-admin (token: inventory-sync)"}
    assert AuditEvent.objects.filter(action="api.database_changed", details__fields=["rpo_hours", "schedule"])


@pytest.mark.parametrize("payload, field", [({"schedule": "every day"}, "schedule"), ({"rpo_hours": 0}, "rpo_hours"),
                                            ({"password_env": "PATH"}, "password_env"),
                                            ({"tiers": ["nowhere"]}, "tier")])
def test_a_bad_change_is_422_naming_the_field_and_nothing_is_saved(client, admin_user, learning_db, payload, field):
    plaintext = token_for(admin_user, Scope.ADMIN)
    before = Database.objects.get(pk=learning_db.pk)
    response = client.patch(f"/api/v1/databases/{learning_db.name}", data=json.dumps(payload), content_type=JSON,
                            **bearer(plaintext))
    assert field in assert_problem(response, 422)["detail"]
    after = Database.objects.get(pk=learning_db.pk)
    assert (after.schedule, after.rpo_hours, after.password_env) == (before.schedule, before.rpo_hours,
                                                                     before.password_env)
