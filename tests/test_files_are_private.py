"""Everything Lifeboat writes is readable by its own OS user only: artifacts, sidecar manifests, globals (role
hashes), evidence zips, the audit anchor; and `check` warns about a backup directory made readable before."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

from django.core.management import call_command

from audit import anchor
from audit.chain import verify_chain
from dashboard.checks import backup_directory_is_private
from evidence.export import export_to_file
from evidence.period import Scope
from tests.helpers import run_json


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_files_and_their_directory_are_private(learning_db, backup_root, tmp_path, settings):
    code, result = run_json("backup", learning_db.name)
    assert code == 0, result
    written = [p for p in Path(backup_root).rglob("*")]
    assert any(p.name.endswith(".dump.zst") for p in written)
    assert any(p.name.endswith(".globals.sql") for p in written)
    for path in written:
        assert mode(path) & 0o077 == 0, f"{path} is {mode(path):o}"

    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = str(tmp_path / "anchors" / "head.jsonl")
    written_anchor = anchor.write_anchor(verify_chain(None))
    assert mode(written_anchor) == 0o600 and mode(written_anchor.parent) == 0o700

    output = tmp_path / "evidence" / "q4.zip"
    output.parent.mkdir()
    export_to_file(Scope.build(date(2026, 1, 1), date(2026, 12, 31)), output, exported_by="auditor")
    assert mode(output) == 0o600 and mode(output.parent) == 0o700


def test_check_warns_about_a_world_readable_backup_directory(settings, tmp_path):
    settings.LIFEBOAT_BACKUP_ROOT = tmp_path / "old-backups"
    settings.LIFEBOAT_BACKUP_ROOT.mkdir()
    settings.LIFEBOAT_BACKUP_ROOT.chmod(0o755)
    warnings = backup_directory_is_private()
    assert [w.id for w in warnings] == ["lifeboat.W002"] and "readable by other users" in warnings[0].msg
    settings.LIFEBOAT_BACKUP_ROOT.chmod(0o700)
    assert backup_directory_is_private() == []


def test_the_check_command_runs_clean_with_private_directories(db, settings, tmp_path):
    settings.LIFEBOAT_BACKUP_ROOT = tmp_path
    tmp_path.chmod(0o700)
    call_command("check", "--tag", "lifeboat")
