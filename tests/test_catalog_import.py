"""A tier is its own catalog: wipe the dashboard's records, import the manifests, and everything comes back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.models import AuditEvent
from backups.engine import pipeline
from backups.models import Artifact, BackupRun, Database, Restore, Verification
from backups.proof.verification import verify_artifact
from backups.recovery.restore import restore_new_database
from tests.catalog_helpers import forget_everything
from tests.catalog_helpers import snapshot_in as snapshot
from tests.helpers import run_command, run_json, table_counts


@pytest.fixture
def two_runs(learning_db, pg_server):
    first = pipeline.backup(learning_db)
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'late' || g || '@example.com' FROM generate_series(1, 7) g")
    second = pipeline.backup(learning_db)
    assert first.status == second.status == "succeeded", (first.error, second.error)
    return [snapshot(first), snapshot(second)]


def test_every_tier_gets_a_manifest_written_after_its_artifact(learning_db):
    run = pipeline.backup(learning_db)
    artifact = run.artifacts.get()
    manifest_path = Path(artifact.location + ".json")

    assert artifact.manifest_location == str(manifest_path)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["backup_uuid"] == str(run.backup_uuid) and manifest["run_id"] == run.pk
    assert manifest["artifact"] == {"name": Path(artifact.location).name, "format": "custom", "compression": "zstd",
                                    "encryption_key_id": None, "encryption": None, "encryption_recipients": "",
                                    "raw_size_bytes": run.raw_size_bytes, "size_bytes": run.size_bytes,
                                    "sha256": run.sha256}
    assert manifest["database"]["dsn"] == learning_db.dsn and "password" not in json.dumps(manifest["database"]
                                                                                           ).replace("password_env", "")
    assert manifest["row_counts"] == {"public.users": 250, "public.lessons": 40, "public.problems": 120}
    assert manifest["globals"] == {"name": run.globals_name, "sha256": run.globals_sha256}
    assert manifest["pg_dump_version"] == run.pg_dump_version and manifest["server_version"] == run.server_version
    assert manifest_path.stat().st_mtime_ns >= Path(artifact.location).stat().st_mtime_ns
    assert not list(manifest_path.parent.glob("*.partial"))


def test_import_rebuilds_runs_sizes_checksums_and_row_counts(two_runs, local_tier):
    forget_everything()

    code, report = run_json("import_catalog", "--tier", "local")

    assert code == 0, report
    assert (report["imported"], report["known"], report["flagged"]) == (2, 0, 0)
    database = Database.objects.get()
    assert database.enabled is False  # an imported database does not start backing up by itself
    rebuilt = [snapshot(run) for run in BackupRun.objects.order_by("started_at")]
    assert rebuilt == two_runs
    assert set(BackupRun.objects.values_list("trigger", flat=True)) == {"import"}
    assert AuditEvent.objects.filter(action="catalog.imported").count() == 1


def test_importing_twice_adds_nothing(two_runs, local_tier):
    forget_everything()
    run_json("import_catalog", "--tier", "local")

    code, report = run_json("import_catalog", "--tier", "local")

    assert code == 0
    assert (report["imported"], report["known"], report["flagged"]) == (0, 2, 0)
    assert BackupRun.objects.count() == 2 and Artifact.objects.count() == 2 and Database.objects.count() == 1


def test_import_of_a_tier_the_dashboard_still_knows_adds_nothing(two_runs, local_tier):
    code, report = run_json("import_catalog", "--tier", "local")

    assert (code, report["imported"], report["known"]) == (0, 0, 2)
    assert BackupRun.objects.count() == 2


def test_dry_run_reports_and_changes_nothing(two_runs, local_tier):
    forget_everything()

    code, report = run_json("import_catalog", "--tier", "local", "--dry-run")

    assert (code, report["imported"], report["dry_run"]) == (0, 2, True)
    assert not BackupRun.objects.exists() and not Database.objects.exists()


def test_imported_records_verify_and_restore(two_runs, local_tier, pg_server, make_source_db):
    forget_everything()
    run_json("import_catalog", "--tier", "local")
    newest = BackupRun.objects.order_by("-started_at").first().artifacts.get()

    verification = verify_artifact(newest)
    assert verification.status == Verification.Status.PASSED, verification.error
    assert verification.table_counts["public.users"] == {"expected": 257, "actual": 257}

    target = make_source_db(prefix="lbt_imported")
    pg_server.drop_database(target)  # restore creates it
    restored = restore_new_database(newest, target)
    assert restored.status == Restore.Status.SUCCEEDED, restored.error
    assert table_counts(pg_server, target, ["users", "lessons", "problems"]) == {
        "users": 257, "lessons": 40, "problems": 120}


def test_a_tampered_artifact_is_flagged_and_never_offered_for_restore(two_runs, local_tier):
    forget_everything()
    path = Path(two_runs[0]["artifact"]["location"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    code, report = run_json("import_catalog", "--tier", "local")

    assert code == 1
    assert (report["imported"], report["flagged"]) == (1, 1)
    flagged = next(item for item in report["items"] if item["outcome"] == "flagged")
    assert "checksum mismatch" in flagged["reason"] and flagged["artifact"] == path.name
    tampered = Artifact.objects.get(location=str(path))
    assert tampered.status == Artifact.Status.FAILED and "checksum mismatch" in tampered.error
    assert not Artifact.objects.live().filter(pk=tampered.pk).exists()
    assert Artifact.objects.live().count() == 1


def test_a_manifest_without_its_artifact_is_flagged(two_runs, local_tier):
    forget_everything()
    Path(two_runs[1]["artifact"]["location"]).unlink()

    code, out, _ = run_command("import_catalog", "--tier", "local")

    assert code == 1
    assert "flagged" in out and "missing from the tier" in out
    assert "imported 1, already known 0, flagged 1" in out
    assert Artifact.objects.live().count() == 1


def test_a_fresh_dashboard_pointed_at_a_directory_shows_its_history(two_runs, local_tier, tmp_path):
    moved = tmp_path / "elsewhere"
    Path(two_runs[0]["artifact"]["location"]).parent.rename(moved)
    forget_everything()

    code, report = run_json("import_catalog", "--tier", "recovered", "--path", str(moved))

    assert (code, report["imported"]) == (0, 2)
    assert {a.location for a in Artifact.objects.live()} == {str(p) for p in moved.glob("*.dump.zst")}


def test_unknown_tier_is_a_one_line_error(db):
    code, _, err = run_command("import_catalog", "--tier", "nowhere")
    assert code == 1 and "unknown tier 'nowhere'" in err and "\n" not in err.strip()
