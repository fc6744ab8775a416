"""Import streams and commits in small steps (issue 19, part 7): no artifact is hashed inside a transaction (one
SQLite write transaction for the whole import blocked every other writer for hours), each manifest is committed
on its own so an interrupted import resumes where it stopped, and progress is shown."""

from __future__ import annotations

import pytest
from django.db import connection

from backups.catalog import importer
from backups.engine import pipeline
from backups.models import BackupRun
from tests.catalog_helpers import forget_everything
from tests.helpers import run_command, run_json


@pytest.fixture
def three_runs(learning_db, local_tier):
    for _ in range(3):
        assert pipeline.backup(learning_db).status == "succeeded"
    forget_everything()


@pytest.fixture
def committed_local_tier(transactional_db, backup_root):
    """Transactional tests flush the tier made by a data migration: make sure it is there."""
    from backups.models import Tier

    return Tier.objects.get_or_create(name="local", defaults={"kind": "local"})[0]


@pytest.mark.django_db(transaction=True)
def test_artifacts_are_hashed_outside_any_transaction(committed_local_tier, learning_db, monkeypatch):
    for _ in range(3):
        assert pipeline.backup(learning_db).status == "succeeded"
    forget_everything()
    real = importer.stream_sha256
    seen = []

    def watched(storage, location):
        seen.append(connection.in_atomic_block)
        return real(storage, location)

    monkeypatch.setattr(importer, "stream_sha256", watched)

    code, report = run_json("import_catalog", "--tier", "local")

    assert code == 0 and report["imported"] == 3
    assert seen and not any(seen)


def test_an_interrupted_import_resumes_and_shows_progress(three_runs, local_tier, monkeypatch):
    real = importer.stream_sha256
    calls = []

    def dies_on_the_third_file(storage, location):
        calls.append(location)
        if len(calls) == 3:  # artifact, globals, then the second artifact
            raise KeyboardInterrupt
        return real(storage, location)

    monkeypatch.setattr(importer, "stream_sha256", dies_on_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        importer.import_catalog(local_tier)
    assert BackupRun.objects.count() == 1  # the first manifest was committed on its own
    monkeypatch.setattr(importer, "stream_sha256", real)

    code, out, err = run_command("import_catalog", "--tier", "local", "--progress-every", "1")

    assert code == 0, err
    assert "imported 2, already known 1, flagged 0" in out
    assert [line.split(" (")[0] for line in err.splitlines()] == [
        "1 manifests done", "2 manifests done", "3 manifests done"]
    assert BackupRun.objects.count() == 3
