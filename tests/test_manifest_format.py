"""The backup manifest's format: a version-1 manifest saved by an earlier Lifeboat still reads and writes back byte
for byte; what a run writes is exactly its facts; anything that is not a readable version-1 backup manifest is
refused with the reason."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from backups.catalog import manifest as catalog
from backups.catalog.manifest import ArtifactFacts, DatabaseTarget, GlobalsFile, Manifest
from backups.errors import StorageError
from backups.models import BackupRun, Database, Tier
from backups.storage.local import LocalStorage

SAVED_V1 = Path(__file__).parent / "fixtures" / "manifest-v1.json"
NOW = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def saved() -> dict:
    return json.loads(SAVED_V1.read_text())


def raw(data: dict) -> bytes:
    return json.dumps(data).encode()


def test_the_saved_version_1_manifest_still_reads_with_every_fact():
    manifest = Manifest.parse(SAVED_V1.read_bytes(), "dumps/a.dump.zst.json")
    assert manifest.format_version == catalog.FORMAT_VERSION == 1 and manifest.kind == "lifeboat-backup"
    assert manifest.backup_uuid == "199ecc01-6c17-4ba3-9092-62995fd5500e" and manifest.run_id == 1
    assert manifest.trigger == "cli" and manifest.name == "dumps/a.dump.zst.json"
    assert manifest.database == DatabaseTarget(
        name="lbt_learning_9b93307a1a", host="127.0.0.1", port=5432, user="postgres",
        dbname="lbt_learning_9b93307a1a", dsn="postgresql://postgres@127.0.0.1:5432/lbt_learning_9b93307a1a",
        password_env="", lifeboat_self=False)
    assert manifest.artifact == ArtifactFacts(
        name="lbt_learning_9b93307a1a_backup_20261130_050221.dump.zst", format="custom", compression="zstd",
        encryption_key_id=None, raw_size_bytes=35049, size_bytes=3214,
        sha256="367df66b320a4c47c88c55257028cd207dcd895dd403bbd3c98840b9ae0a7d5a")
    assert manifest.globals == GlobalsFile("lbt_learning_9b93307a1a_backup_20261130_050221.globals.sql",
                                           "3d023bb6c83be4aecf6fbe0620bbefcc0a37664c788f496019782ab219b06ecc")
    assert manifest.started_at == manifest.created_at == datetime(2026, 11, 30, 5, 2, 21, 886113, tzinfo=UTC)
    assert manifest.finished_at == datetime(2026, 11, 30, 5, 2, 22, 325779, tzinfo=UTC)
    assert manifest.written_at == datetime(2026, 11, 30, 5, 2, 22, 325787, tzinfo=UTC)
    assert manifest.row_counts == {"public.lessons": 40, "public.problems": 120, "public.users": 250}
    assert (manifest.pg_dump_version, manifest.server_version, manifest.snapshot_id) == (
        "15.20", "15.20", "00000002-00006083-1")
    assert manifest.app_schema_version is None


def test_the_saved_version_1_manifest_writes_back_with_only_the_optional_facts_added_since(tmp_path):
    manifest = Manifest.parse(SAVED_V1.read_bytes(), "a.json")
    assert manifest.database.libpq_options == "" and manifest.warnings is None  # added to format 1 later
    copy = catalog.write_json(tmp_path / "again.json", manifest.as_json())
    expected = saved() | {"warnings": None, "database": saved()["database"] | {"libpq_options": ""}}
    assert Path(copy.location).read_bytes() == json.dumps(expected, indent=2, sort_keys=True).encode() + b"\n"
    assert json.loads(Path(copy.location).read_text()) != saved()
    assert "name" not in manifest.as_json()  # the manifest's own name is where it lies, not what it says


def test_files_named_in_a_manifest_lie_beside_it():
    nested = Manifest.parse(SAVED_V1.read_bytes(), "db/2026/a.json")
    assert nested.artifact_name == "db/2026/lbt_learning_9b93307a1a_backup_20261130_050221.dump.zst"
    assert nested.globals_name == "db/2026/lbt_learning_9b93307a1a_backup_20261130_050221.globals.sql"
    top = Manifest.parse(SAVED_V1.read_bytes(), "a.json")
    assert top.artifact_name == "lbt_learning_9b93307a1a_backup_20261130_050221.dump.zst"
    assert top.globals_name == "lbt_learning_9b93307a1a_backup_20261130_050221.globals.sql"
    for no_globals in (None, {}, {"name": ""}):
        assert Manifest.parse(raw(saved() | {"globals": no_globals}), "d/a.json").globals_name == ""


def run_with(**fields) -> BackupRun:
    database = Database(name="learning", host="db.internal", port=5433, user="backup", dbname="dsa_learning",
                        libpq_options="sslmode=require", password_env="LEARNING_PW")
    values = dict(pk=7, database=database, backup_uuid=uuid.UUID("00000000-0000-4000-8000-000000000007"),
                  trigger="schedule", created_at=datetime(2026, 11, 30, 4, 0, tzinfo=UTC),
                  started_at=datetime(2026, 11, 30, 4, 0, 1, tzinfo=UTC),
                  finished_at=datetime(2026, 11, 30, 4, 1, tzinfo=UTC), pg_dump_version="15.20",
                  server_version="15.4", snapshot_id="00000003-1", raw_size_bytes=1000, size_bytes=100,
                  sha256="ab" * 32, row_counts={"public.users": 3}, globals_name="g.sql", globals_sha256="cd" * 32,
                  app_schema_version="django_migrations: backups.0009", warnings=["globals file missing"])
    return BackupRun(**(values | fields))


@time_machine.travel(NOW, tick=False)
def test_a_run_writes_exactly_its_facts():
    assert catalog.build_manifest(run_with(), "learning.dump.zst") == {
        "format_version": 1, "kind": "lifeboat-backup", "backup_uuid": "00000000-0000-4000-8000-000000000007",
        "run_id": 7, "trigger": "schedule",
        "database": {"name": "learning", "host": "db.internal", "port": 5433, "user": "backup",
                     "dbname": "dsa_learning", "dsn": "postgresql://backup@db.internal:5433/dsa_learning?sslmode=require",
                     "libpq_options": "sslmode=require", "password_env": "LEARNING_PW", "lifeboat_self": False},
        "created_at": "2026-11-30T04:00:00+00:00", "started_at": "2026-11-30T04:00:01+00:00",
        "finished_at": "2026-11-30T04:01:00+00:00", "pg_dump_version": "15.20", "server_version": "15.4",
        "snapshot_id": "00000003-1",
        "artifact": {"name": "learning.dump.zst", "format": "custom", "compression": "zstd",
                     "encryption_key_id": None, "raw_size_bytes": 1000, "size_bytes": 100, "sha256": "ab" * 32},
        "row_counts": {"public.users": 3}, "globals": {"name": "g.sql", "sha256": "cd" * 32},
        "app_schema_version": "django_migrations: backups.0009", "warnings": ["globals file missing"],
        "written_at": "2026-11-30T05:00:00+00:00"}


@time_machine.travel(NOW, tick=False)
def test_a_run_still_running_its_other_tiers_is_finished_when_its_manifest_is_written():
    written = catalog.build_manifest(run_with(finished_at=None, globals_name="", app_schema_version=""),
                                     "x.dump.zst", is_self=True)
    assert written["finished_at"] == "2026-11-30T05:00:00+00:00"
    assert written["globals"] is None and written["app_schema_version"] is None
    assert written["database"]["lifeboat_self"] is True


def test_what_a_run_writes_reads_back_as_the_same_manifest(tmp_path):
    run = run_with()
    written = Manifest.for_run(run, "learning.dump.zst")
    path = tmp_path / catalog.manifest_name("learning.dump.zst")
    catalog.write_json(path, written.as_json())
    assert path.name == "learning.dump.zst.json"
    assert Manifest.parse(path.read_bytes(), path.name) == replace(written, name=path.name)


def test_write_json_replaces_an_older_file_and_put_json_stores_through_the_tier(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    catalog.write_json(path, {"b": 1, "a": [1]})
    assert path.read_text() == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    storage = LocalStorage(Tier(name="local", kind=Tier.Kind.LOCAL, path=str(tmp_path / "tier")))
    stored = catalog.put_json(storage, "db/m.json", {"k": "v"}, {})
    assert Path(stored.location) == tmp_path / "tier" / "db" / "m.json"
    assert json.loads(Path(stored.location).read_text()) == {"k": "v"}


def test_empty_optional_facts_read_as_not_there_and_a_time_without_zone_as_utc():
    data = saved() | {"created_at": "", "finished_at": None, "globals": {}, "row_counts": {},
                      "started_at": "2026-11-30T05:02:21"}
    manifest = Manifest.parse(raw(data), "a.json")
    assert manifest.created_at is None and manifest.finished_at is None and manifest.globals is None
    assert manifest.row_counts == {} and manifest.database.password_env == ""
    assert manifest.started_at == datetime(2026, 11, 30, 5, 2, 21, tzinfo=UTC)
    trimmed = {k: v for k, v in saved().items() if k in ("format_version", "kind", "backup_uuid", "database",
                                                          "started_at", "artifact")}
    minimal = Manifest.parse(raw(trimmed), "a.json")
    assert minimal.run_id is None and minimal.trigger is None and minimal.row_counts is None


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "a.json is not valid JSON"),
    (b"\xff\xfe", "a.json is not valid JSON"),
    (b"[1, 2]", "a.json is not a Lifeboat backup manifest"),
    (raw(saved() | {"kind": "lifeboat-selfbackup"}), "a.json is not a Lifeboat backup manifest"),
    (raw(saved() | {"format_version": 2}), "a.json has manifest format 2; this Lifeboat reads format 1"),
    (raw({k: v for k, v in saved().items() if k != "format_version"}), "a.json has manifest format None"),
    (raw(saved() | {"backup_uuid": ""}), "a.json lacks 'backup_uuid'"),
    (raw(saved() | {"database": {}}), "a.json lacks 'database'"),
    (raw({k: v for k, v in saved().items() if k != "started_at"}), "a.json lacks 'started_at'"),
    (raw(saved() | {"artifact": None}), "a.json lacks 'artifact'"),
    (raw(saved() | {"database": saved()["database"] | {"host": ""}}), "a.json lacks 'database.host'"),
    (raw(saved() | {"artifact": {"sha256": "x"}}), "a.json lacks 'artifact.name'"),
    (raw(saved() | {"database": "db"}), "a.json: database is not a JSON object"),
    (raw(saved() | {"started_at": "yesterday"}), "a.json has an unreadable 'started_at': 'yesterday'"),
    (raw(saved() | {"finished_at": "2026-13-45T00:00:00"}), "a.json has an unreadable 'finished_at'"),
    (raw(saved() | {"created_at": 1700000000}), "a.json has an unreadable 'created_at': 1700000000"),
])
def test_a_file_that_is_not_a_readable_version_1_backup_manifest_is_refused_with_the_reason(body, reason):
    with pytest.raises(StorageError) as caught:
        Manifest.parse(body, "a.json")
    assert str(caught.value).startswith(reason), caught.value


def test_optional_facts_missing_from_a_manifest_read_as_their_defaults():
    database = {k: v for k, v in saved()["database"].items() if k not in ("dsn", "password_env", "lifeboat_self")}
    manifest = Manifest.parse(raw(saved() | {"database": database, "globals": {"sha256": "x"}}), "d/a.json")
    assert (manifest.database.dsn, manifest.database.password_env, manifest.database.lifeboat_self) == ("", "", False)
    assert manifest.globals == GlobalsFile(name="", sha256="x") and manifest.globals_name == ""
    built = Manifest.for_run(run_with(), "x.dump.zst")
    assert built.name == "" and built.database.lifeboat_self is False


def test_self_backup_sidecars_keep_their_own_kind():
    # written beside every self-backup since format 1: import_catalog skips them by this kind
    assert catalog.KIND_SELF_BACKUP == "lifeboat-selfbackup" and catalog.KIND_BACKUP == "lifeboat-backup"
