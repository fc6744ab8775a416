"""The evidence package: its manifest hashes match its files, `sha256sum -c` passes, each population says how
it was drawn and how many rows it has, nothing missing drops out silently, and the export is itself audited."""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest

from audit.models import AuditChainHead, AuditEvent
from backups.models import BackupRun, Tier, Verification
from tests.evidence_data import daily_history
from tests.helpers import run_command


@pytest.fixture
def history(db, local_tier):
    orders = daily_history("orders", date(2026, 1, 1), 90, fail_every=10)
    daily_history("billing", date(2026, 1, 1), 90)
    return orders


def export(tmp_path: Path, *args: str) -> tuple[dict, Path]:
    output = tmp_path / "evidence.zip"
    code, out, err = run_command("export_evidence", "--since", "2026-02-01", "--until", "2026-02-28",
                                 "--output", str(output), *args)
    assert code == 0, err
    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(output) as archive:
        archive.extractall(extracted)
    return json.loads((extracted / "manifest.json").read_text()), extracted


def test_manifest_hashes_match_the_files_and_sha256sum_checks_them(history, tmp_path):
    manifest, extracted = export(tmp_path)

    for entry in manifest["files"]:
        data = (extracted / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
        assert len(data) == entry["size"]
        assert entry["name"] == "summary.html" or entry["controls"]
    names = {e["name"] for e in manifest["files"]}
    assert {"backup_runs.csv", "backup_runs.json", "artifacts.csv", "verifications.json", "restores.csv",
            "retention_policies.csv", "tiers.json", "audit_events.jsonl", "summary.html"} <= names
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS.txt"], cwd=extracted, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == len(names) + 1  # every file plus manifest.json


def test_populations_carry_their_query_and_exact_counts(history, tmp_path):
    manifest, extracted = export(tmp_path, "--database", "orders")
    populations = {p["name"]: p for p in manifest["populations"]}

    runs = populations["backup_runs"]
    assert runs["count"] == 28 and runs["counts_by_file"] == {"csv": 28, "json": 28}
    assert runs["query"]["scope"]["databases"] == ["orders"]
    assert runs["query"]["scope"]["start_inclusive"] == "2026-02-01T00:00:00+00:00"
    assert runs["query"]["scope"]["end_exclusive"] == "2026-03-01T00:00:00+00:00"
    assert "created_at" in runs["query"]["sql"] and set(runs["controls"]) >= {"A1.2", "A.8.13"}
    with (extracted / "backup_runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 28 and {r["database__name"] for r in rows} == {"orders"}
    expected_failed = BackupRun.objects.filter(database__name="orders", status="failed",
                                               created_at__month=2, created_at__year=2026).count()
    assert sum(r["status"] == "failed" for r in rows) == expected_failed > 0
    assert len(json.loads((extracted / "verifications.json").read_text())) == populations["verifications"]["count"]
    assert populations["verifications"]["count"] == Verification.objects.filter(
        artifact__run__database__name="orders", created_at__month=2, created_at__year=2026).count()


def test_manifest_names_who_when_version_chain_head_and_controls(history, tmp_path):
    head_before = AuditChainHead.objects.get(pk=1)
    manifest, _ = export(tmp_path)
    assert manifest["exported_by"] == f"os:{getpass.getuser()}" and manifest["generated_at"]
    assert manifest["app_version"] and manifest["period"]["since"] == "2026-02-01"
    assert manifest["audit_chain"]["head_hash"] == head_before.last_hash
    assert manifest["audit_chain"]["verification"]["intact"] is True
    assert set(manifest["controls"]) == {"A1.2", "A1.3", "CC7.5", "CC9.1", "A.8.13"}


def test_missing_populations_are_listed_as_omissions(history, tmp_path, monkeypatch):
    from evidence import populations

    # As if the drills app were not installed: its expected populations are named, not dropped silently.
    for name in ("drills", "dr_contacts"):
        monkeypatch.delitem(populations.REGISTRY, name)
    manifest, extracted = export(tmp_path)
    omitted = {o["item"]: o["reason"] for o in manifest["omissions"]}
    assert "drills.csv/.json" in omitted and "dr_contacts.csv/.json" in omitted
    assert "drill_steps.csv/.json" not in omitted  # still registered
    assert not (extracted / "drills.csv").exists() and (extracted / "drill_steps.csv").exists()
    summary = (extracted / "summary.html").read_text()
    assert "Omissions" in summary and "dr_contacts.csv/.json" in summary


def test_live_bucket_settings_are_read_at_export_time(history, s3_tier, moto_s3, tmp_path):
    from backups.storage import bucket_policy

    bucket_policy.apply_policy(s3_tier)
    manifest, extracted = export(tmp_path)
    live = json.loads((extracted / "tier_live_config.json").read_text())
    (entry,) = live
    assert entry["tier"] == s3_tier.name and entry["versioning"] == "Enabled"
    assert entry["rules"] and entry["differences_from_declared"] == []
    assert "tier_live_config.json" in {f["name"] for f in manifest["files"]}

    moto_s3.put_bucket_versioning(Bucket=s3_tier.bucket, VersioningConfiguration={"Status": "Suspended"})
    manifest, extracted = export(tmp_path / "again")
    (entry,) = json.loads((extracted / "tier_live_config.json").read_text())
    assert entry["versioning"] == "Suspended" and entry["differences_from_declared"]


def test_an_unreadable_bucket_is_an_omission_not_a_silence(history, moto_s3, tmp_path):
    Tier.objects.create(name="s3-gone", kind=Tier.Kind.S3, bucket="no-such-bucket-lifeboat")
    manifest, extracted = export(tmp_path)
    omitted = {o["item"]: o["reason"] for o in manifest["omissions"]}
    assert "no-such-bucket-lifeboat" in omitted["tier_live_config.json: s3-gone"]
    assert "s3-gone" in (extracted / "summary.html").read_text()


def test_summary_counts_per_month_and_open_exceptions(history, tmp_path):
    manifest, extracted = export(tmp_path, "--database", "orders")
    summary = (extracted / "summary.html").read_text()
    assert "2026-02" in summary and "Open exceptions" in summary
    # Failures in February were each followed by a good backup the next day: none is open.
    assert "backup failed, no good backup since" not in summary


def test_the_export_is_an_audit_event_and_audit_events_of_the_period_are_included(history, tmp_path, time_machine):
    from audit import trail

    time_machine.move_to("2026-02-10 12:00:00+00:00", tick=False)
    inside = trail.record("test.inside", summary="in the period")
    time_machine.move_to("2026-03-10 12:00:00+00:00", tick=False)
    outside = trail.record("test.outside", summary="after the period")
    _, extracted = export(tmp_path)
    lines = [json.loads(line) for line in (extracted / "audit_events.jsonl").read_text().splitlines()]
    ids = {line["id"] for line in lines}
    assert inside.pk in ids and outside.pk not in ids
    assert all({"hash", "prev_hash", "details"} <= set(line) for line in lines)
    exported = AuditEvent.objects.filter(action="evidence.exported").last()
    assert exported.actor == f"os:{getpass.getuser()}" and exported.details["counts"]["backup_runs"] == 56


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2026-03-01", "--until", "2026-02-01"], "ends"),
    (["--since", "2026-13-01", "--until", "2026-02-01"], "YYYY-MM-DD"),
    (["--since", "2026-01-01", "--until", "2026-02-01", "--database", "nope"], "unknown database"),
])
def test_bad_input_gets_one_clear_line_and_writes_nothing(db, tmp_path, args, message):
    output = tmp_path / "out.zip"
    code, _, err = run_command("export_evidence", *args, "--output", str(output))
    assert code != 0 and message in err and "\n" not in err.strip()
    assert not output.exists() and not list(tmp_path.iterdir())


def test_an_existing_file_is_never_overwritten(db, tmp_path):
    output = tmp_path / "out.zip"
    output.write_bytes(b"keep me")
    code, _, err = run_command("export_evidence", "--since", "2026-01-01", "--until", "2026-01-02",
                               "--output", str(output))
    assert code != 0 and "exists" in err and output.read_bytes() == b"keep me"


def test_another_app_adds_a_population_and_a_summary_section(history, tmp_path, monkeypatch):
    """How the drills and alerts apps join the package: their population replaces the omission."""
    from backups.models import Database
    from evidence import populations

    monkeypatch.setitem(populations.REGISTRY, "dr_contacts", populations.Population(
        "dr_contacts", "DR contacts", ("CC7.5",), ("id", "name"), lambda s: Database.objects.order_by("id"),
        "stand-in rows for the test", per_period=False))
    monkeypatch.setitem(populations.SUMMARY_SECTIONS, "DR drills", lambda scope: f"<p>drills of {scope.since}</p>")
    manifest, extracted = export(tmp_path)
    assert "dr_contacts" not in " ".join(o["item"] for o in manifest["omissions"])
    assert {p["name"]: p["count"] for p in manifest["populations"]}["dr_contacts"] == 2
    assert (extracted / "dr_contacts.csv").read_text().splitlines()[0] == "id,name"
    assert "<p>drills of 2026-02-01</p>" in (extracted / "summary.html").read_text()


def test_alerts_and_their_notifications_are_populations(history, tmp_path):
    from datetime import UTC, datetime

    from alerts.models import Alert, AlertEvent, Channel, Kind, Notification, Severity

    orders = history
    at = datetime(2026, 2, 11, 3, 0, tzinfo=UTC)
    alert = Alert.objects.create(key="freshness:orders", kind=Kind.values[0], severity=Severity.CRITICAL,
                                 title="orders is late", message="no good backup for 30 h", database=orders,
                                 opened_at=at, resolved_at=at.replace(hour=9))
    event = AlertEvent.objects.create(alert=alert, change=AlertEvent.Change.FIRED, created_at=at, message="late")
    channel = Channel.objects.create(name="ops", url="json://127.0.0.1:9/x")
    Notification.objects.create(channel=channel, event=event, kind=alert.kind, severity=alert.severity,
                                title=alert.title, body="late", status=Notification.Status.SENT, created_at=at,
                                sent_at=at)
    Alert.objects.create(key="old", kind=Kind.values[0], severity=Severity.WARNING, title="january",
                         message="-", opened_at=datetime(2026, 1, 5, tzinfo=UTC))

    manifest, extracted = export(tmp_path)
    counts = {p["name"]: p["count"] for p in manifest["populations"]}
    assert counts["alerts"] == 1 and counts["alert_notifications"] == 1
    assert not any(o["item"].startswith("alert") for o in manifest["omissions"])
    rows = list(csv.DictReader((extracted / "alerts.csv").open()))
    assert rows[0]["title"] == "orders is late" and rows[0]["resolved_at"].startswith("2026-02-11T09")
    assert json.loads((extracted / "alert_notifications.json").read_text())[0]["channel__name"] == "ops"
