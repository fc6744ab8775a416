"""import_catalog --defer-hashing (issue 19): on a very large bucket the import records each copy with its manifest's
SHA-256 without downloading it, marked "hash not yet checked"; the next verification hashes the stored bytes, and a
copy whose bytes differ fails as corrupt."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.models import AuditEvent
from backups.catalog import importer
from backups.engine import pipeline
from backups.models import Artifact, Verification
from backups.proof.verification import verify_artifact
from tests.catalog_helpers import forget_everything
from tests.helpers import run_json


@pytest.fixture
def two_runs(learning_db, local_tier):
    runs = [pipeline.backup(learning_db) for _ in range(2)]
    assert all(run.status == "succeeded" for run in runs)
    locations = [run.artifacts.get().location for run in runs]
    forget_everything()
    return locations


@pytest.fixture
def no_hashing(monkeypatch):
    """Every file the import reads to hash it."""
    read = []
    real = importer.stream_sha256

    def watched(storage, location):
        read.append(location)
        return real(storage, location)

    monkeypatch.setattr(importer, "stream_sha256", watched)
    return read


def test_deferred_hashing_reads_no_artifact_and_marks_the_copies_unchecked(two_runs, local_tier, no_hashing):
    code, report = run_json("import_catalog", "--tier", "local", "--defer-hashing")

    assert code == 0, report
    assert (report["imported"], report["flagged"], report["hashing_deferred"]) == (2, 0, 2)
    assert no_hashing == []
    copies = Artifact.objects.filter(tier=local_tier)
    assert sorted(copies.values_list("location", flat=True)) == sorted(two_runs)
    assert [a.hash_checked for a in copies] == [False, False]
    assert all(a.is_live and a.sha256 for a in copies)


def test_a_re_run_skips_what_is_already_imported_without_reading_it(two_runs, local_tier, no_hashing, monkeypatch):
    run_json("import_catalog", "--tier", "local", "--defer-hashing")
    manifests_read = []
    real_read = importer._read
    monkeypatch.setattr(importer, "_read", lambda storage, location: manifests_read.append(location)
                        or real_read(storage, location))

    code, report = run_json("import_catalog", "--tier", "local")

    assert (code, report["imported"], report["known"]) == (0, 0, 2)
    assert [m for m in manifests_read if m.endswith(".dump.zst.json")] == []
    assert no_hashing == []


def test_the_next_verification_checks_a_deferred_hash(two_runs, local_tier):
    run_json("import_catalog", "--tier", "local", "--defer-hashing")
    artifact = Artifact.objects.get(location=two_runs[-1])

    record = verify_artifact(artifact)

    artifact.refresh_from_db()
    assert record.status == Verification.Status.PASSED, record.error
    assert artifact.hash_checked and artifact.is_live


def test_a_copy_that_changed_is_imported_unchecked_and_fails_as_corrupt_at_its_verification(two_runs, local_tier):
    path = Path(two_runs[-1])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the bytes say it
    path.write_bytes(bytes(data))

    code, report = run_json("import_catalog", "--tier", "local", "--defer-hashing")
    assert (code, report["imported"], report["flagged"]) == (0, 2, 0)
    artifact = Artifact.objects.get(location=str(path))
    assert artifact.is_live and not artifact.hash_checked

    record = verify_artifact(artifact)

    artifact.refresh_from_db()
    assert record.status == Verification.Status.FAILED
    assert {c["name"]: c["ok"] for c in record.checks} == {"size": True, "sha256": False}
    assert artifact.status == Artifact.Status.FAILED and artifact.error.startswith("corrupt:")
    assert not Artifact.objects.live().filter(pk=artifact.pk).exists()  # never offered for restore, not fresh
    assert AuditEvent.objects.filter(action="artifact.corrupt", target_id=str(artifact.pk)).exists()


def test_the_run_page_says_the_hash_is_not_yet_checked(two_runs, local_tier, client, dba):
    run_json("import_catalog", "--tier", "local", "--defer-hashing")
    artifact = Artifact.objects.get(location=two_runs[-1])
    client.force_login(dba)

    page = client.get(artifact.run.get_absolute_url()).content.decode()

    assert "hash not yet checked" in page
    Artifact.objects.filter(pk=artifact.pk).update(hash_checked=True)
    assert "hash not yet checked" not in client.get(artifact.run.get_absolute_url()).content.decode()
