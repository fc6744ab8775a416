"""The same catalog import against an S3 bucket (moto in-process): history, verification, tamper flagging."""

from __future__ import annotations

import json

import pytest

from backups.catalog import selfbackup
from backups.engine import pipeline
from backups.models import Artifact, BackupRun, Tier, Verification
from backups.proof.verification import verify_artifact
from tests.catalog_helpers import forget_everything, snapshot_in
from tests.helpers import run_json


@pytest.fixture
def s3_runs(learning_db, local_tier, s3_tier, pg_server):
    runs = []
    for extra in (0, 5):
        with pg_server.connect(learning_db.dbname) as conn:
            conn.execute(f"INSERT INTO users (email) SELECT 'x' || g || '-' || gen_random_uuid() "
                         f"FROM generate_series(1, {extra}) g")
        run = pipeline.backup(learning_db, tiers=[local_tier, s3_tier])
        assert run.status == "succeeded", run.error
        runs.append(snapshot_in(run, s3_tier))
    return runs


def test_every_s3_copy_has_its_manifest_beside_it(s3_runs, s3_tier, moto_s3):
    key = s3_runs[0]["artifact"]["location"]
    body = moto_s3.get_object(Bucket=s3_tier.bucket, Key=key + ".json")["Body"].read()
    manifest = json.loads(body)
    assert manifest["artifact"]["sha256"] == s3_runs[0]["run"]["sha256"]
    assert s3_runs[0]["artifact"]["manifest_location"] == key + ".json"


def test_import_from_a_bucket_rebuilds_the_history_and_it_verifies(s3_runs, s3_tier):
    forget_everything()

    code, report = run_json("import_catalog", "--tier", s3_tier.name)

    assert code == 0, report
    assert (report["imported"], report["known"], report["flagged"]) == (2, 0, 0)
    assert [snapshot_in(run, s3_tier) for run in BackupRun.objects.order_by("started_at")] == s3_runs
    assert run_json("import_catalog", "--tier", s3_tier.name)[1]["known"] == 2
    newest = Artifact.objects.filter(tier=s3_tier).order_by("-run__started_at").first()
    verification = verify_artifact(newest)
    assert verification.status == Verification.Status.PASSED, verification.error
    assert verification.table_counts["public.users"] == {"expected": 255, "actual": 255}


def test_a_fresh_dashboard_pointed_at_the_bucket_sees_everything(s3_runs, s3_tier):
    bucket, prefix = s3_tier.bucket, s3_tier.prefix
    forget_everything()
    s3_tier.delete()

    code, report = run_json("import_catalog", "--tier", "offsite", "--bucket", bucket, "--prefix", prefix)

    assert (code, report["imported"]) == (0, 2)
    tier = Tier.objects.get(name="offsite")
    assert (tier.kind, tier.bucket, tier.prefix) == ("s3", bucket, prefix)
    assert Artifact.objects.live().filter(tier=tier).count() == 2


def test_a_tampered_object_in_the_bucket_is_flagged(s3_runs, s3_tier, moto_s3):
    forget_everything()
    key = s3_runs[1]["artifact"]["location"]
    data = bytearray(moto_s3.get_object(Bucket=s3_tier.bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    moto_s3.put_object(Bucket=s3_tier.bucket, Key=key, Body=bytes(data))

    code, report = run_json("import_catalog", "--tier", s3_tier.name)

    assert (code, report["imported"], report["flagged"]) == (1, 1, 1)
    flagged = Artifact.objects.get(location=key)
    assert flagged.status == Artifact.Status.FAILED and "checksum mismatch" in flagged.error


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sqlite_self_backup_goes_to_the_bucket_too(s3_tier, moto_s3, backup_root):
    Tier.objects.get_or_create(name="local", defaults={"kind": "local"})

    result = selfbackup.sqlite_self_backup()

    key = result["tiers"][s3_tier.name]["location"]
    assert key == f"{s3_tier.prefix}{result['name']}"
    sidecar = json.loads(moto_s3.get_object(Bucket=s3_tier.bucket, Key=key + ".json")["Body"].read())
    assert sidecar["sha256"] == result["sha256"] and "location" in result["tiers"]["local"]
