"""Once a tier requires verification, freshness counts only verified copies; the overview says 'unverified'."""

from __future__ import annotations

from backups.engine import pipeline
from backups.models import Freshness
from backups.proof.verification import verify_artifact


def test_freshness_needs_a_verified_copy_when_the_tier_asks_for_it(learning_db, local_tier, admin_client):
    run = pipeline.backup(learning_db)
    assert learning_db.freshness(local_tier).status == Freshness.OK
    assert learning_db.freshness(local_tier).verified is False

    local_tier.require_verified = True
    local_tier.save()
    assert learning_db.freshness(local_tier).status == Freshness.NEVER
    assert "unverified" in admin_client.get("/").text

    verify_artifact(run.artifacts.get())
    report = learning_db.freshness(local_tier)
    assert report.status == Freshness.OK and report.verified is True
