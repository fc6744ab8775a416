"""The whole story (issue 19's acceptance): Lifeboat is lost after weeks of ordinary work and rebuilt from the bucket.

Machine A protects a database for ten simulated days (time_machine, inside its own process: tests/lifeboat_story.py):
nightly backups to the local directory and S3 (moto's server on loopback), retention and the monthly archive move,
a daily self-backup, audit segments shipped every hour, the chain head anchored in S3, a drill signed off, an
evidence package exported; the bucket's lifecycle moves older copies to GLACIER. Its last hours are never shipped.
Then machine A's directory (database, local tier, anchor file) is deleted, and machine B, sharing only the bucket,
runs the README's recovery steps in order. Every run comes back (the cold ones archived), the audit trail verifies
with exactly one disclosed gap of exactly the lost events, a new evidence package names them, and the signed drill
still matches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import boto3
import pytest
from django.utils import timezone

from tests.aws import REGION, make_bucket
from tests.conftest import LEARNING_SCHEMA
from tests.test_lifeboat_disaster_recovery import ROOT, machine

AUDIT_KEY = "story-audit-key-kept-outside-the-database"


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """manage.py on one machine (the story's weeks take a while on a loaded machine: a generous timeout)."""
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    if check and proc.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args[:3])} exited {proc.returncode}: {proc.stderr[-3000:]}")
    return proc


def package_manifest(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


@pytest.mark.slow
def test_lifeboat_is_rebuilt_from_the_bucket_alone(pg_server, make_source_db, tmp_path, moto_server):
    source = make_source_db(LEARNING_SCHEMA, prefix="lbt_story")
    bucket = make_bucket(boto3.client("s3", region_name=REGION, endpoint_url=moto_server))
    exports = tmp_path / "kept-elsewhere"  # what the auditor and the test keep: not on machine A
    exports.mkdir()
    t = pg_server.target
    a = machine(tmp_path / "machine-a", tmp_path / "machine-a" / "backups")
    a["LIFEBOAT_AUDIT_KEY"] = AUDIT_KEY
    manage(a, "migrate", "--noinput")
    manage(a, "shell", "-c", "from tests.lifeboat_story import live_weeks; live_weeks("
                             f"dsn='postgresql://{t.user}@{t.host}:{t.port}/{source}', bucket={bucket!r}, "
                             f"endpoint={moto_server!r}, out={str(exports / 'machine-a.json')!r})")
    lived = json.loads((exports / "machine-a.json").read_text())
    assert lived["cold"] and lived["head_count"] > lived["last_shipped_seq"]
    shutil.rmtree(tmp_path / "machine-a")  # the server is gone: its database, its backups, its anchor file

    # The README's steps ("Bringing Lifeboat back on a new machine"), in order, with the bucket alone.
    b = machine(tmp_path / "machine-b", tmp_path / "machine-b" / "backups")
    b["LIFEBOAT_AUDIT_KEY"] = AUDIT_KEY
    manage(b, "migrate", "--noinput")
    restored = json.loads(manage(b, "restore_selfbackup", "--tier", "offsite", "--bucket", bucket, "--prefix",
                                 "backups/", "--endpoint-url", moto_server, "--json").stdout)
    imported = json.loads(manage(b, "import_catalog", "--tier", "s3", "--json").stdout)
    swept = manage(b, "sweep_catalog", "--actor", "dana", "--json")
    checked = manage(b, "verify_audit_log", check=False)
    after = exports / "after-the-loss.zip"
    manage(b, "export_evidence", "--since", lived["start"], "--until", f"{timezone.now():%Y-%m-%d}",
           "--output", str(after))
    manage(b, "shell", "-c", f"from tests.lifeboat_story import account; account(out={str(exports / 'b.json')!r})")
    now = json.loads((exports / "b.json").read_text())

    lost_from, lost_to = lived["last_shipped_seq"] + 1, lived["head_count"]
    missing = lost_to - lost_from + 1
    assert restored["audit"]["loaded"] > 0 and restored["audit"]["missing"] == missing
    assert imported["flagged"] == 0 and imported["imported"] >= 1  # the run the last self-backup never saw
    assert json.loads(swept.stdout)["tiers"]
    # Every run is back with its status; the copies the lifecycle moved to GLACIER are archived.
    assert now["runs"] == lived["runs"]
    assert set(lived["cold"]) <= set(now["archived"]) and set(now["archived"]) <= set(lived["runs"])
    # The trail verifies, with one disclosed gap of exactly the events written after the last shipped segment.
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.count("disclosed recovery gap") == 1
    assert f"disclosed recovery gap: events {lost_from}..{lost_to} ({missing} events)" in checked.stdout
    # The new evidence package says so; the one exported before the loss had nothing to disclose.
    gap_items = [o for o in package_manifest(after)["omissions"] if o["item"].startswith("audit events")]
    assert gap_items == [{"item": f"audit events {lost_from}..{lost_to}", "reason": gap_items[0]["reason"]}]
    assert f"({missing} events)" in gap_items[0]["reason"]
    assert package_manifest(after)["audit_chain"]["verification"]["intact"]
    before = package_manifest(exports / "before-the-loss.zip")
    assert not [o for o in before["omissions"] if o["item"].startswith("audit events")]
    # The drill signed off on machine A still matches its record.
    assert lived["signoffs"] and sorted(int(k) for k in now["signoffs"]) == sorted(lived["signoffs"])
    assert all(now["signoffs"].values())
