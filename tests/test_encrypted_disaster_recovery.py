"""A rebuild from encrypted backups needs the offline recovery key, and works with it alone.

Machine A encrypts to its online key and the offline recovery key. Machine B, built after A's loss, holds only the
recovery key: restore_selfbackup, import_catalog, verify and restore all work. Without a key, restore_selfbackup
fails in one line and leaves no half-written dashboard file.
"""

from __future__ import annotations

import json

import pytest
from pyrage import x25519

from tests.conftest import LEARNING_SCHEMA
from tests.test_lifeboat_disaster_recovery import machine, manage, rows


def key_pair(path) -> str:
    identity = x25519.Identity.generate()
    path.write_text(f"{identity}\n")
    path.chmod(0o600)
    return str(identity.to_public())


@pytest.mark.slow
def test_a_lost_dashboard_comes_back_from_encrypted_backups_with_the_recovery_key(pg_server, make_source_db,
                                                                                   tmp_path):
    source = make_source_db(LEARNING_SCHEMA, prefix="lbt_encdr")
    backups = tmp_path / "shared-backups"
    online, recovery = key_pair(tmp_path / "online.key"), key_pair(tmp_path / "recovery.key")
    a = machine(tmp_path / "machine-a", backups)
    a.update(LIFEBOAT_ENCRYPTION_RECIPIENTS=f"{online},{recovery}",
             LIFEBOAT_ENCRYPTION_IDENTITY_FILE=str(tmp_path / "online.key"))
    t = pg_server.target
    manage(a, "migrate", "--noinput")
    manage(a, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('dana')")
    manage(a, "add_database", "learning", "--dsn", f"postgresql://{t.user}@{t.host}:{t.port}/{source}")
    backup = json.loads(manage(a, "backup", "learning", "--json").stdout)
    copied = json.loads(manage(a, "self_backup", "--json").stdout)
    assert backup["status"] == "succeeded" and backup["artifacts"][0]["location"].endswith(".dump.zst.age")
    assert copied["name"].endswith(".sqlite3.zst.age")
    (tmp_path / "machine-a").rename(tmp_path / "machine-a-lost")
    (tmp_path / "online.key").unlink()  # the online key was on machine A

    b = machine(tmp_path / "machine-b", backups)
    manage(b, "migrate", "--noinput")
    refused = manage(b, "restore_selfbackup", "--tier", "local", check=False)
    assert refused.returncode != 0 and "LIFEBOAT_ENCRYPTION_IDENTITY_FILE is not set" in refused.stderr
    assert not list((tmp_path / "machine-b").glob("*.restoring"))

    b.update(LIFEBOAT_ENCRYPTION_IDENTITY_FILE=str(tmp_path / "recovery.key"))
    restored = json.loads(manage(b, "restore_selfbackup", "--tier", "local", "--json").stdout)
    imported = json.loads(manage(b, "import_catalog", "--tier", "local", "--json").stdout)
    assert restored["name"] == copied["name"]
    assert (imported["known"], imported["flagged"]) == (1, 0)
    db_file = tmp_path / "machine-b" / "lifeboat.sqlite3"
    assert rows(db_file, "SELECT username FROM auth_user") == [("dana",)]

    run_id = rows(db_file, "SELECT id FROM backups_backuprun")[0][0]
    verified = manage(b, "verify", str(run_id), "--json", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    target = f"{source}_back"
    try:
        restore = manage(b, "restore", str(run_id), "--target-db", target, "--json", check=False)
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert pg_server.query(target, "SELECT count(*) FROM users")[0][0] == 250
    finally:
        pg_server.drop_database(target)
