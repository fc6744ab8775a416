"""An Auditor exports a period from the Evidence page (a django-q2 task with progress) and downloads it; a DBA,
who lacks dashboard.export_evidence, is refused every evidence page with 403."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from evidence.models import EvidenceExport
from tests.evidence_data import daily_history


@pytest.fixture
def evidence_dir(tmp_path, settings):
    settings.LIFEBOAT_EVIDENCE_DIR = tmp_path / "evidence"
    return settings.LIFEBOAT_EVIDENCE_DIR


def test_an_auditor_exports_a_period_and_downloads_the_package(client, auditor, local_tier, evidence_dir,
                                                                tasks_inline):
    daily_history("orders", date(2026, 1, 1), 60)
    client.force_login(auditor)
    assert client.get(reverse("evidence:index")).status_code == 200

    response = client.post(reverse("evidence:export_create"),
                           {"since": "2026-01-01", "until": "2026-01-31", "databases": ["orders"]})

    assert response.status_code == 302
    export = EvidenceExport.objects.get()
    assert export.status == EvidenceExport.Status.DONE, export.error
    assert export.progress == 100 and export.requested_by == auditor and export.databases == ["orders"]
    page = client.get(reverse("evidence:index")).content.decode()
    assert reverse("evidence:export_download", args=[export.pk]) in page and export.sha256 in page

    download = client.get(reverse("evidence:export_download", args=[export.pk]))
    body = b"".join(download.streaming_content)
    assert download.status_code == 200 and export.filename in download["Content-Disposition"]
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("manifest.json"))
    assert manifest["exported_by"] == "audrey-auditor"
    assert {p["name"]: p["count"] for p in manifest["populations"]}["backup_runs"] == 31
    actions = list(AuditEvent.objects.filter(actor="audrey-auditor").values_list("action", flat=True))
    assert "evidence.exported" in actions and "evidence.downloaded" in actions


def test_a_running_export_shows_its_progress_and_polls(client, auditor):
    export = EvidenceExport.objects.create(requested_by=auditor, requested_by_name="audrey-auditor",
                                           since=date(2026, 1, 1), until=date(2026, 1, 31),
                                           status=EvidenceExport.Status.RUNNING, progress=40,
                                           progress_note="writing artifacts")
    client.force_login(auditor)
    fragment = client.get(reverse("evidence:index"), HTTP_HX_REQUEST="true").content.decode()
    assert 'value="40"' in fragment and "writing artifacts" in fragment and "every 2s" in fragment
    assert "<h1>" not in fragment  # the fragment only
    export.mark_done("/nowhere.zip", 10, "0" * 64)
    assert "every 2s" not in client.get(reverse("evidence:index"), HTTP_HX_REQUEST="true").content.decode()


def test_bad_period_is_refused_with_a_message_and_nothing_queued(client, auditor):
    client.force_login(auditor)
    response = client.post(reverse("evidence:export_create"), {"since": "2026-02-01", "until": "2026-01-01"},
                           follow=True)
    assert "ends" in response.content.decode() and not EvidenceExport.objects.exists()


def test_a_dba_without_the_permission_is_refused(client, dba, auditor):
    export = EvidenceExport.objects.create(requested_by=auditor, requested_by_name="audrey-auditor",
                                           since=date(2026, 1, 1), until=date(2026, 1, 31))
    client.force_login(dba)
    assert client.get(reverse("evidence:index")).status_code == 403
    assert client.get(reverse("evidence:population")).status_code == 403
    assert client.get(reverse("evidence:export_download", args=[export.pk])).status_code == 403
    response = client.post(reverse("evidence:export_create"), {"since": "2026-01-01", "until": "2026-01-31"})
    assert response.status_code == 403 and EvidenceExport.objects.count() == 1
    assert client.post(reverse("evidence:sample_create"), {"since": "2026-01-01", "until": "2026-01-31",
                                                           "size": 3}).status_code == 403
    assert "Evidence" not in client.get(reverse("home")).content.decode()


def test_the_nav_offers_evidence_to_an_auditor(client, auditor):
    client.force_login(auditor)
    assert reverse("evidence:index") in client.get(reverse("home")).content.decode()
