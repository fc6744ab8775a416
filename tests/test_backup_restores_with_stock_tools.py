from __future__ import annotations

from pathlib import Path

from backups.models import BackupRun
from tests.helpers import run_json, stock_restore, table_counts

TABLES = ["users", "lessons", "problems"]


def test_backup_restores_with_zstd_and_pg_restore_to_equal_rows(learning_db, pg_server, make_source_db):
    code, result = run_json("backup", learning_db.name)

    assert code == 0, result
    assert result["status"] == "succeeded"
    local = result["artifacts"][0]
    assert local["tier"] == "local"
    path = Path(local["location"])
    assert path.is_absolute() and path.name.startswith(f"{learning_db.name}_backup_")
    assert path.name.endswith(".dump.zst")
    assert local["sha256"] == result["sha256"] and local["size_bytes"] == path.stat().st_size

    target = make_source_db(prefix="lbt_restored")
    stock_restore(str(path), pg_server, target)
    assert table_counts(pg_server, target, TABLES) == table_counts(pg_server, learning_db.dbname, TABLES)


def test_run_records_versions_sizes_counts_and_globals(learning_db):
    code, result = run_json("backup", learning_db.name)
    run = BackupRun.objects.get(pk=result["id"])

    assert code == 0
    assert run.pg_dump_version and run.server_version
    assert run.raw_size_bytes > run.size_bytes > 0
    assert run.row_counts == {"public.users": 250, "public.lessons": 40, "public.problems": 120}
    assert run.duration is not None and run.finished_at >= run.started_at
    globals_file = Path(result["artifacts"][0]["location"]).with_name(run.globals_name)
    assert "CREATE ROLE" in globals_file.read_text()
    assert run.artifacts.get().globals_location == str(globals_file)


def test_no_partial_file_survives_a_successful_run(learning_db, backup_root):
    run_json("backup", learning_db.name)
    assert not list(Path(backup_root).glob("*.partial"))


def test_two_backups_in_the_same_second_keep_both_files(learning_db, backup_root):
    import time_machine

    with time_machine.travel("2026-11-24 02:00:00+00:00", tick=False):
        _, first = run_json("backup", learning_db.name)
        _, second = run_json("backup", learning_db.name)
    assert first["artifacts"][0]["location"] != second["artifacts"][0]["location"]
    assert Path(first["artifacts"][0]["location"]).exists() and Path(second["artifacts"][0]["location"]).exists()
