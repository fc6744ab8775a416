"""Encryption at rest with age: artifacts, globals and self-backups are unreadable without the key, yet open with
the stock `age` tool; a wrong or missing key fails in one line and leaves nothing; old keys keep old copies readable.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
import zstandard
from pyrage import x25519

from backups.catalog import selfbackup
from backups.engine import pgtools, pipeline
from backups.models import Artifact, Tier
from backups.proof.verification import verify_artifact
from backups.recovery import restore
from tests.catalog_helpers import forget_everything
from tests.helpers import run_json, table_counts

TABLES = ["users", "lessons", "problems"]
AGE_MAGIC = b"age-encryption.org/v1"


class Key:
    """An age X25519 key pair, its identity in a private file like the one the README asks for."""

    def __init__(self, directory: Path, name: str) -> None:
        self.identity = x25519.Identity.generate()
        self.recipient = str(self.identity.to_public())
        self.file = directory / f"{name}.key"
        self.file.write_text(f"# {name}\n{self.identity}\n")
        self.file.chmod(0o600)


@pytest.fixture
def keys(tmp_path):
    directory = tmp_path / "keys"
    directory.mkdir()
    return {name: Key(directory, name) for name in ("online", "recovery", "old", "stranger")}


@pytest.fixture
def encrypted(settings, keys):
    """Copies encrypted to the online key and the offline recovery key; this host reads with the online one."""
    settings.LIFEBOAT_ENCRYPTION_RECIPIENTS = [keys["online"].recipient, keys["recovery"].recipient]
    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = str(keys["online"].file)
    return keys


@pytest.fixture
def target_name(pg_server):
    names: list[str] = []

    def make(prefix: str = "lbt_enc") -> str:
        names.append(f"{prefix}_{uuid.uuid4().hex[:8]}")
        return names[-1]

    yield make
    for name in names:
        pg_server.drop_database(name)


def stock_age_restore(path: str, key: Path, server, dbname: str) -> None:
    """The README's commands, stock tools only: age -d -i KEY FILE | zstd -dc | pg_restore -d DB."""
    t = server.target
    script = (f"set -o pipefail; age -d -i '{key}' '{path}' | zstd -dc | {pgtools.pg_binary('pg_restore')} "
              f"--exit-on-error -h {t.host} -p {t.port} -U {t.user} -d {dbname}")
    subprocess.run(["bash", "-c", script], check=True, capture_output=True)


def test_an_encrypted_backup_verifies_and_restores_with_lifeboat_and_with_stock_age(
        encrypted, learning_db, pg_server, target_name, backup_root):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    artifact = run.artifacts.get()
    path = Path(artifact.location)
    recipients = [encrypted["online"].recipient, encrypted["recovery"].recipient]

    # Named and stored as age files, nothing plain beside them but the (secret-free) manifest.
    assert path.name.endswith(".dump.zst.age") and path.read_bytes().startswith(AGE_MAGIC)
    globals_path = Path(artifact.globals_location)
    assert globals_path.name.endswith(".globals.sql.age") and b"CREATE ROLE" not in globals_path.read_bytes()
    assert artifact.encryption_recipients == recipients
    written = sorted(p.name for p in Path(backup_root).rglob("*") if p.is_file())
    assert all(name.endswith((".age", ".age.json")) for name in written), written
    manifest_text = Path(artifact.manifest_location).read_text()
    manifest = json.loads(manifest_text)
    assert manifest["artifact"]["encryption"] == "age"
    assert manifest["artifact"]["encryption_recipients"] == ",".join(recipients)
    assert "AGE-SECRET-KEY" not in manifest_text

    verification = verify_artifact(artifact)
    assert verification.status == "passed", verification.error

    by_lifeboat = target_name()
    record = restore.restore(artifact, by_lifeboat, with_globals=True)
    assert record.status == "succeeded", record.error
    expected = table_counts(pg_server, learning_db.dbname, TABLES)
    assert table_counts(pg_server, by_lifeboat, TABLES) == expected

    # A rebuild from the bucket with the offline recovery key and stock tools only.
    by_stock_tools = target_name()
    with pg_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{by_stock_tools}"')
    stock_age_restore(str(path), encrypted["recovery"].file, pg_server, by_stock_tools)
    assert table_counts(pg_server, by_stock_tools, TABLES) == expected
    roles = subprocess.run(["age", "-d", "-i", str(encrypted["recovery"].file), str(globals_path)],
                           check=True, capture_output=True).stdout
    assert b"CREATE ROLE" in roles


def test_a_wrong_or_missing_identity_is_one_line_and_leaves_no_database(
        encrypted, learning_db, pg_server, target_name, settings):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error

    cases = {
        "wrong": (str(encrypted["stranger"].file), "no identity in"),
        "unset": ("", "LIFEBOAT_ENCRYPTION_IDENTITY_FILE is not set"),
        "missing file": (str(encrypted["stranger"].file) + ".gone", "cannot read the age identity file"),
    }
    for case, (identity_file, message) in cases.items():
        settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = identity_file
        name = target_name()
        code, result = run_json("restore", str(run.pk), "--target-db", name)
        assert code == 1, (case, result)
        assert message in result["error"] and "\n" not in result["error"], (case, result["error"])
        assert not pg_server.database_exists(name), case

    # --force over an existing database: the key is checked before anything is dropped.
    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = str(encrypted["stranger"].file)
    existing = target_name()
    with pg_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{existing}"')
    code, result = run_json("restore", str(run.pk), "--target-db", existing, "--force")
    assert code == 1 and "no identity in" in result["error"]
    assert pg_server.database_exists(existing)

    verification = verify_artifact(run.artifacts.get())
    assert verification.status == "failed" and "no identity in" in verification.error
    assert "\n" not in verification.error
    leftovers = pg_server.query("postgres", "SELECT datname FROM pg_database WHERE datname = %s",
                                (verification.scratch_database,))
    assert leftovers == []


def test_rotation_old_copies_restore_with_the_old_identity_kept_for_reading(
        keys, settings, learning_db, pg_server, target_name):
    settings.LIFEBOAT_ENCRYPTION_RECIPIENTS = [keys["old"].recipient]
    old_run = pipeline.backup(learning_db)
    settings.LIFEBOAT_ENCRYPTION_RECIPIENTS = [keys["online"].recipient]  # rotated: new copies to the new key
    new_run = pipeline.backup(learning_db)
    assert old_run.status == new_run.status == "succeeded", (old_run.error, new_run.error)
    old_artifact, new_artifact = old_run.artifacts.get(), new_run.artifacts.get()
    assert old_artifact.encryption_recipients == [keys["old"].recipient]
    assert new_artifact.encryption_recipients == [keys["online"].recipient]

    both = keys["online"].file.with_name("both.key")
    both.write_text(keys["online"].file.read_text() + "\n# retired, kept for reading\n" + keys["old"].file.read_text())
    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = str(both)
    for artifact in (old_artifact, new_artifact):
        name = target_name()
        record = restore.restore(artifact, name)
        assert record.status == "succeeded", record.error
        assert table_counts(pg_server, name, TABLES)["lessons"] == 40

    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = str(keys["online"].file)  # the old identity thrown away
    record = restore.restore(old_artifact, target_name())
    assert record.status == "failed" and "no identity in" in record.error


def test_a_tier_that_requires_encryption_refuses_a_plain_copy(learning_db, local_tier, tmp_path, settings, keys):
    strict = Tier.objects.create(name="strict", kind=Tier.Kind.LOCAL, path=str(tmp_path / "strict"),
                                 requires_encryption=True)

    run = pipeline.backup(learning_db, tiers=[local_tier, strict])

    assert run.status == "succeeded", run.error  # the plain tier took it
    refused = run.artifacts.get(tier=strict)
    assert refused.status == Artifact.Status.FAILED and "requires encryption" in refused.error
    assert not (tmp_path / "strict").exists() or not any((tmp_path / "strict").iterdir())

    settings.LIFEBOAT_ENCRYPTION_RECIPIENTS = [keys["online"].recipient]
    run = pipeline.backup(learning_db, tiers=[local_tier, strict])
    stored = run.artifacts.get(tier=strict)
    assert stored.status == Artifact.Status.STORED and stored.location.endswith(".dump.zst.age")


def test_catalog_import_of_an_encrypted_tier_keeps_the_recipients(encrypted, learning_db, local_tier):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    forget_everything()

    code, report = run_json("import_catalog", "--tier", local_tier.name)

    assert (code, report["imported"]) == (0, 1), report
    artifact = Artifact.objects.live().get()
    assert artifact.location.endswith(".dump.zst.age")
    assert artifact.encryption_recipients == [encrypted["online"].recipient, encrypted["recovery"].recipient]
    assert verify_artifact(artifact).status == "passed"


def test_the_sqlite_self_backup_is_encrypted_and_restores(encrypted, transactional_db, backup_root, django_user_model,
                                                         tmp_path):
    Tier.objects.get_or_create(name="local", defaults={"kind": "local"})
    django_user_model.objects.create_user("dana")

    result = selfbackup.sqlite_self_backup()

    path = Path(result["tiers"]["local"]["location"])
    assert path.name.endswith(".sqlite3.zst.age") and path.read_bytes().startswith(AGE_MAGIC)
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["encryption_recipients"] == [encrypted["online"].recipient, encrypted["recovery"].recipient]
    plain = subprocess.run(["age", "-d", "-i", str(encrypted["recovery"].file), str(path)],
                           check=True, capture_output=True).stdout
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(zstandard.ZstdDecompressor().decompressobj().decompress(plain))
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT username FROM auth_user").fetchall() == [("dana",)]
    _, newest, _ = selfbackup.newest_self_backup(selfbackup.storage_for(Tier.objects.get(name="local")))
    assert newest == path.name


def test_the_run_and_tier_pages_say_how_a_copy_is_encrypted(encrypted, learning_db, local_tier, client, dba):
    local_tier.requires_encryption = True
    local_tier.save()
    run = pipeline.backup(learning_db, tiers=[local_tier])
    client.force_login(dba)

    page = client.get(run.get_absolute_url()).content.decode()
    assert "Encrypted with age to 2 recipients" in page
    assert "AGE-SECRET-KEY" not in page
    assert "required: plain copies are refused" in client.get(local_tier.get_absolute_url()).content.decode()


def test_old_encrypted_self_backups_are_pruned_by_age(encrypted, transactional_db, backup_root, settings):
    """Pruning knows the .age names: kept by age (LIFEBOAT_SELF_BACKUP_KEEP_DAYS), sidecars with their copies."""
    import time_machine

    from backups.storage.local import LocalStorage

    tier = Tier.objects.get_or_create(name="local", defaults={"kind": "local"})[0]
    settings.LIFEBOAT_SELF_BACKUP_KEEP = 1
    settings.LIFEBOAT_SELF_BACKUP_KEEP_DAYS = 30
    for day in ("2026-10-01", "2026-10-20", "2026-11-05"):
        with time_machine.travel(f"{day} 02:00:00+00:00", tick=False):
            selfbackup.sqlite_self_backup()

    names = sorted(o.name for o in LocalStorage(tier).list_names() if o.name.startswith("lifeboat_self"))
    assert names == ["lifeboat_selfbackup_20261020_020000.sqlite3.zst.age",
                     "lifeboat_selfbackup_20261020_020000.sqlite3.zst.age.json",
                     "lifeboat_selfbackup_20261105_020000.sqlite3.zst.age",
                     "lifeboat_selfbackup_20261105_020000.sqlite3.zst.age.json"]


def test_replace_with_a_wrong_key_changes_nothing(encrypted, learning_db, pg_server, settings):
    from backups.recovery.replace import replace

    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = str(encrypted["stranger"].file)
    before = table_counts(pg_server, learning_db.dbname, TABLES)

    record = replace(run.artifacts.get(), confirm=learning_db.dbname)

    assert record.status == "failed" and "no identity in" in record.error and "\n" not in record.error
    assert table_counts(pg_server, learning_db.dbname, TABLES) == before
    assert not pg_server.query("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                               (learning_db.dbname[:40] + "%forensic%",))
