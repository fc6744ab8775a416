"""A run that lacks a part it should have (the globals file: roles and tablespaces) is "succeeded with warnings":
a flag on a succeeded run, shown on the run page, the history and the overview, and alerted as a warning."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from alerts.models import Alert, Kind, Severity
from backups.engine import pgtools, pipeline
from backups.models import BackupRun


@pytest.fixture
def pg_dumpall_fails(monkeypatch, tmp_path):
    """pg_dumpall that cannot connect (a role without access, a server that refuses the globals query)."""
    script = tmp_path / "pg_dumpall"
    script.write_text("#!/bin/sh\necho 'pg_dumpall: error: connection refused for globals' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    real = pgtools.pg_binary

    def binary(name: str) -> str:
        return str(script) if name == "pg_dumpall" else real(name)

    monkeypatch.setattr(pgtools, "pg_binary", binary)


def test_missing_globals_is_succeeded_with_warnings_and_alerted(learning_db, local_tier, settings, pg_dumpall_fails,
                                                                 client, dba):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)

    assert run.status == BackupRun.Status.SUCCEEDED  # the database dump itself is good
    assert run.warnings and "globals" in run.warnings[0] and "connection refused for globals" in run.warnings[0]
    assert run.status_label == "Succeeded with warnings"
    assert not run.globals_name
    manifest = json.loads(Path(run.artifacts.get().manifest_location).read_text())
    assert manifest["warnings"] == run.warnings  # a catalog import brings the flag back

    alert = Alert.objects.open().get(kind=Kind.BACKUP_WARNINGS)
    assert alert.severity == Severity.WARNING and f"#{run.pk}" in alert.message and "globals" in alert.message

    client.force_login(dba)
    assert "Succeeded with warnings" in client.get(run.get_absolute_url()).text
    assert "connection refused for globals" in client.get(run.get_absolute_url()).text
    assert "Succeeded with warnings" in client.get("/backups/").text
    assert "with warnings" in client.get("/").text


def test_a_later_complete_run_resolves_the_warning(learning_db, local_tier, settings, monkeypatch, tmp_path,
                                                   pg_dumpall_fails):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    pipeline.backup(learning_db)
    alert = Alert.objects.open().get(kind=Kind.BACKUP_WARNINGS)

    monkeypatch.undo()
    run = pipeline.backup(learning_db)

    assert run.status == BackupRun.Status.SUCCEEDED and run.warnings == [] and run.globals_name
    assert run.status_label == "Succeeded"
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None
