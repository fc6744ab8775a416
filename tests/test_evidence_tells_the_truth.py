"""The evidence package tells the truth (issue 19, part 2): its chain check is verify_audit_log's (anchors
included), open alerts are open exceptions, the exporter is named, and deletions of the period are counted."""

from __future__ import annotations

import csv
import getpass
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from alerts.models import Alert
from audit import anchor
from audit.chain import verify_chain
from backups.models import Artifact
from tests.evidence_data import daily_history
from tests.helpers import run_command


@pytest.fixture
def history(db, local_tier, settings, tmp_path):
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = tmp_path / "anchor.jsonl"
    return daily_history("orders", date(2026, 1, 1), 90)


def export(tmp_path: Path) -> tuple[dict, Path]:
    output = tmp_path / "evidence.zip"
    code, out, err = run_command("export_evidence", "--since", "2026-02-01", "--until", "2026-02-28",
                                 "--output", str(output))
    assert code == 0, err
    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(output) as archive:
        archive.extractall(extracted)
    return json.loads((extracted / "manifest.json").read_text()), extracted


def test_the_chain_check_includes_the_anchor_as_verify_audit_log_does(history, tmp_path, settings):
    report = verify_chain()
    assert report.intact and report.count >= 1
    # An outside anchor that recorded another hash at this position: the chain was rewritten since.
    Path(settings.LIFEBOAT_AUDIT_ANCHOR_PATH).write_text(json.dumps(
        {"count": 1, "last_hash": "f" * 64, "last_event_id": 1, "written_at": "2026-01-01T00:00:00+00:00"}) + "\n")
    code, _, _ = run_command("verify_audit_log")
    assert code == 1

    manifest, extracted = export(tmp_path)

    assert manifest["audit_chain"]["verification"]["intact"] is False
    assert manifest["audit_chain"]["verification"]["problem"] == verify_chain(anchor.known_anchors()).problem
    assert "outside anchor" in (extracted / "summary.html").read_text()


def test_an_open_critical_alert_is_an_open_exception(history, tmp_path):
    Alert.objects.create(key="chain:tampered", kind="audit_chain_broken", severity="critical",
                         title="The audit chain was tampered with", message="event #3 was edited",
                         opened_at=datetime(2026, 2, 10, tzinfo=UTC))

    _, extracted = export(tmp_path)

    summary = (extracted / "summary.html").read_text()
    exceptions = summary.split("<h2>Open exceptions</h2>")[1].split("<h2>")[0]
    assert "The audit chain was tampered with" in exceptions and "critical" in exceptions


def test_the_exporter_is_named(history, tmp_path):
    manifest, _ = export(tmp_path)
    assert manifest["exported_by"] == f"os:{getpass.getuser()}"


def test_deletions_in_the_period_of_copies_made_before_it_are_in_the_artifacts(history, tmp_path):
    january = Artifact.objects.filter(run__created_at__month=1).order_by("id").first()
    Artifact.objects.filter(pk=january.pk).update(
        status=Artifact.Status.DELETED, deleted_at=datetime(2026, 2, 14, 3, tzinfo=UTC), deleted_by="system",
        delete_reason="keep_days: older than 30 days")

    _, extracted = export(tmp_path)

    with (extracted / "artifacts.csv").open() as f:
        rows = {int(row["id"]): row for row in csv.DictReader(f)}
    assert january.pk in rows and rows[january.pk]["delete_reason"] == "keep_days: older than 30 days"
