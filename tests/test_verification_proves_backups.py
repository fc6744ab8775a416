"""Verification restores every backup into a scratch database and checks it against the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from backups.engine import pipeline
from backups.models import Verification
from backups.proof.verification import SCRATCH_PREFIX, verify_artifact
from tests.helpers import run_command, run_json


def scratch_databases(pg_server) -> list[str]:
    return [r[0] for r in pg_server.query("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                                          (SCRATCH_PREFIX + "%",))]


@pytest.fixture
def good_run(learning_db):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    return run


def checks_by_name(record: Verification) -> dict[str, bool]:
    return {c["name"]: c["ok"] for c in record.checks}


def test_a_good_backup_verifies_and_its_scratch_database_is_dropped(good_run, pg_server, settings, tmp_path):
    settings.LIFEBOAT_VERIFY_TMP = str(tmp_path / "verify")
    record = verify_artifact(good_run.artifacts.get())

    assert record.status == Verification.Status.PASSED, record.error
    assert checks_by_name(record) == {"size": True, "sha256": True, "restore": True, "row_counts": True,
                                      "objects": True, "database_properties": True}
    assert record.table_counts["public.users"] == {"expected": 250, "actual": 250}
    restore = next(c for c in record.checks if c["name"] == "restore")
    assert "into unlogged tables" in restore["detail"]  # no WAL for a throwaway restore
    assert record.restore_seconds > 0 and record.started_at <= record.finished_at
    assert record.scratch_database.startswith(SCRATCH_PREFIX)
    assert record.scratch_database not in scratch_databases(pg_server)
    assert list((tmp_path / "verify").iterdir()) == []  # the table-of-contents head is removed too


def test_one_flipped_byte_fails_the_checksum_and_is_never_restored(good_run, pg_server):
    artifact = good_run.artifacts.get()
    path = Path(artifact.location)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    record = verify_artifact(artifact)

    assert record.status == Verification.Status.FAILED
    assert checks_by_name(record) == {"size": True, "sha256": False}  # no restore was attempted
    assert "not restored" in record.error
    artifact.refresh_from_db()
    assert artifact.status == "failed" and artifact.error.startswith("corrupt:")  # no longer offered as a copy
    assert record.scratch_database not in scratch_databases(pg_server)


def test_a_truncated_file_fails(good_run, pg_server):
    artifact = good_run.artifacts.get()
    path = Path(artifact.location)
    path.write_bytes(path.read_bytes()[: artifact.size_bytes // 2])

    record = verify_artifact(artifact)

    assert record.status == Verification.Status.FAILED
    assert checks_by_name(record)["size"] is False
    assert record.scratch_database not in scratch_databases(pg_server)


def test_counts_that_disagree_with_the_record_fail_naming_the_table(good_run, pg_server):
    good_run.row_counts = {**good_run.row_counts, "public.problems": 121}
    good_run.save(update_fields=["row_counts"])

    record = verify_artifact(good_run.artifacts.get())

    assert record.status == Verification.Status.FAILED
    assert checks_by_name(record)["row_counts"] is False
    assert "public.problems (expected 121, found 120)" in record.error
    assert record.scratch_database not in scratch_databases(pg_server)


def test_a_missing_artifact_fails_cleanly(good_run):
    artifact = good_run.artifacts.get()
    Path(artifact.location).unlink()
    record = verify_artifact(artifact)
    assert record.status == Verification.Status.FAILED
    assert "cannot read" in record.error


def test_verify_command_json_and_exit_codes(good_run, learning_db):
    code, result = run_json("verify", "latest", "--database", learning_db.name)
    assert code == 0
    assert result["status"] == "passed" and result["run"] == good_run.pk
    assert {c["name"] for c in result["checks"]} == {"size", "sha256", "restore", "row_counts", "objects",
                                                     "database_properties"}
    assert result["restore_seconds"] > 0 and result["duration_seconds"] > 0

    Path(good_run.artifacts.get().location).write_bytes(b"not a backup")
    code, result = run_json("verify", str(good_run.pk))
    assert code == 1 and result["status"] == "failed"

    code, _, err = run_command("verify", "nope")
    assert code == 1 and "expected a run id or 'latest'" in err


def test_a_verification_is_queued_after_every_successful_backup(learning_db):
    run = pipeline.backup(learning_db)
    queued = Verification.objects.get()
    assert queued.artifact.run == run and queued.status == Verification.Status.QUEUED


def test_unlogged_loading_is_refused_where_postgresql_would_refuse_the_constraints():
    from backups.proof.verification import can_load_unlogged

    listing = """;
3340; 0 16386 TABLE DATA public users postgres
3400; 2606 16500 FK CONSTRAINT public problems problems_lesson_id_fkey postgres
3401; 2606 16501 FK CONSTRAINT billing invoices invoices_user_id_fkey postgres
"""
    assert can_load_unlogged(listing, partitioned=[]) is True
    assert can_load_unlogged(listing, partitioned=["public events"]) is True  # holds no foreign key
    assert can_load_unlogged(listing, partitioned=["billing invoices"]) is False  # a logged parent's FK
    published = listing + "3500; 6106 16600 PUBLICATION TABLE public pub_users users postgres\n"
    assert can_load_unlogged(published, partitioned=[]) is False
