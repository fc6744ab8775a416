"""Lifeboat protects its own database: registered when it is PostgreSQL, copied after scheduled runs on SQLite."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
import zstandard

from audit.models import AuditEvent
from backups import tasks
from backups.catalog import own_database, selfbackup
from backups.engine import pipeline
from backups.models import BackupRun, Database
from backups.storage.local import LocalStorage


@pytest.fixture
def local_tier(transactional_db, backup_root):
    """Transactional tests flush the tier made by a data migration: make sure it is there."""
    from backups.models import Tier

    return Tier.objects.get_or_create(name="local", defaults={"kind": "local"})[0]


def pg_settings(pg_server, dbname: str, password: str = "") -> dict:
    t = pg_server.target
    return {"ENGINE": "django.db.backends.postgresql", "NAME": dbname, "HOST": t.host, "PORT": t.port,
            "USER": t.user, "PASSWORD": password}


@pytest.fixture
def own_pg_database(db, pg_server, make_source_db, monkeypatch, backup_root):
    """A real PostgreSQL database standing in for the dashboard's own, with a Django migrations table."""
    dbname = make_source_db("""
        CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz);
        INSERT INTO django_migrations (app, name, applied) VALUES ('backups', '0004_catalog', now());
        CREATE TABLE auth_user (id serial PRIMARY KEY, username text);
        INSERT INTO auth_user (username) VALUES ('dana');
    """, prefix="lbt_self")
    own = pg_settings(pg_server, dbname, password="not-stored-anywhere")
    monkeypatch.setattr(own_database, "own_settings", lambda: own)
    monkeypatch.setenv("LIFEBOAT_DB_PASSWORD", "not-stored-anywhere")  # trust auth accepts any password
    return own


def test_a_postgresql_dashboard_protects_itself_without_storing_its_password(own_pg_database):
    database = selfbackup.register_self_database()

    assert database.name == "lifeboat" and database.dbname == own_pg_database["NAME"]
    assert database.password_env == "LIFEBOAT_DB_PASSWORD" and database.enabled
    stored = json.dumps(list(Database.objects.values()), default=str)
    assert "not-stored-anywhere" not in stored
    assert selfbackup.register_self_database().pk == database.pk  # idempotent
    assert Database.objects.count() == 1


def test_the_post_migrate_hook_registers_it(own_pg_database):
    from django.apps import apps

    from backups.apps import _protect_self

    _protect_self(app_config=apps.get_app_config("backups"), using="default")
    assert Database.objects.get().is_lifeboat_self


def test_its_backups_say_they_are_lifeboat_itself(own_pg_database):
    database = selfbackup.register_self_database()

    run = pipeline.backup(database)

    assert run.status == "succeeded", run.error
    manifest = json.loads(Path(run.artifacts.get().manifest_location).read_text())
    assert manifest["database"]["lifeboat_self"] is True
    assert manifest["database"]["password_env"] == "LIFEBOAT_DB_PASSWORD"
    assert "not-stored-anywhere" not in json.dumps(manifest)
    assert manifest["app_schema_version"] == "django_migrations: backups.0004_catalog"


def test_self_backup_can_be_turned_off(own_pg_database, settings):
    settings.LIFEBOAT_SELF_BACKUP = False
    assert selfbackup.register_self_database() is None
    assert not Database.objects.exists()


def test_sqlite_dashboard_is_not_registered(db):
    assert selfbackup.register_self_database() is None


def decompress(path: Path) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sqlite_copy_is_consistent_and_described_by_its_sidecar(local_tier, django_user_model, tmp_path):
    django_user_model.objects.create_user("dana")

    result = selfbackup.sqlite_self_backup()

    path = Path(result["tiers"]["local"]["location"])
    assert path.name == result["name"] and path.name.startswith("lifeboat_selfbackup_")
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["kind"] == "lifeboat-selfbackup" and sidecar["sha256"] == result["sha256"]
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(decompress(path))
    assert len(copy.read_bytes()) == sidecar["raw_size_bytes"]
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT username FROM auth_user").fetchall() == [("dana",)]
    assert sidecar["row_counts"]["auth_user"] == 1
    assert sidecar["app_schema_version"].startswith("django_migrations: ")
    assert AuditEvent.objects.filter(action="selfbackup.succeeded").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_self_backups_are_kept_by_age(local_tier, settings):
    import time_machine

    settings.LIFEBOAT_SELF_BACKUP_KEEP_DAYS = 3
    settings.LIFEBOAT_SELF_BACKUP_KEEP = 1  # at least the newest, whatever its age
    for day in (20, 21, 22, 24):
        with time_machine.travel(f"2026-11-{day} 01:00:00+00:00", tick=False):
            selfbackup.sqlite_self_backup()

    names = sorted(o.name for o in LocalStorage(local_tier).list_names() if o.name.startswith("lifeboat_self"))
    assert names == ["lifeboat_selfbackup_20261122_010000.sqlite3.zst",
                     "lifeboat_selfbackup_20261122_010000.sqlite3.zst.json",
                     "lifeboat_selfbackup_20261124_010000.sqlite3.zst",
                     "lifeboat_selfbackup_20261124_010000.sqlite3.zst.json"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_scheduled_self_backup_runs_at_most_once_a_day(local_tier):
    import time_machine

    storage = LocalStorage(local_tier)
    for moment in ("2026-11-24 01:00", "2026-11-24 02:00", "2026-11-24 23:59", "2026-11-25 00:30"):
        with time_machine.travel(f"{moment}:00+00:00", tick=False):
            tasks.self_backup()

    assert sorted(o.name for o in storage.list_names(selfbackup.SELF_SUFFIX)) == [
        "lifeboat_selfbackup_20261124_010000.sqlite3.zst", "lifeboat_selfbackup_20261125_003000.sqlite3.zst"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_self_backup_is_taken_before_each_migration(local_tier):
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    storage = LocalStorage(local_tier)
    tasks.self_backup()
    before = sum(1 for _ in storage.list_names(selfbackup.SELF_SUFFIX))
    executor = MigrationExecutor(connection)
    last = executor.loader.graph.leaf_nodes("backups")[0]
    plan = [(executor.loader.graph.nodes[last], False)]

    selfbackup.self_backup_before_migration(sender=apps.get_app_config("backups"), plan=plan)
    selfbackup.self_backup_before_migration(sender=apps.get_app_config("backups"), plan=[])  # nothing to do

    assert sum(1 for _ in storage.list_names(selfbackup.SELF_SUFFIX)) == before + 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_scheduled_run_is_followed_by_a_self_backup_but_a_manual_one_is_not(
        learning_db, local_tier, tasks_inline, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    storage = LocalStorage(local_tier)

    def self_copies() -> int:
        return sum(1 for o in storage.list_names(selfbackup.SELF_SUFFIX))

    pipeline.backup(learning_db, trigger=BackupRun.Trigger.CLI)
    assert self_copies() == 0
    run_id = tasks.scheduled_backup(learning_db.pk)
    assert BackupRun.objects.get(pk=run_id).status == "succeeded"
    assert self_copies() == 1
