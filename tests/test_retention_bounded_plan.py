"""The bounded plan the tier page uses gives every copy the decision planning the whole tier gives it: plan each
database's deciding copies (deciding_ids), decide every other copy alone (decide_alone). Property-tested over
random histories and policies, then checked against the database query that finds the deciding copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backups.retention import planner
from backups.retention.planner import Copy, Policy, Verdict

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

copies_strategy = st.lists(
    st.builds(
        lambda db, hours, verdict, hold, archived: (db, hours, verdict, hold, archived),
        st.sampled_from(["a", "b", "c"]), st.integers(0, 24 * 500), st.sampled_from(list(Verdict)),
        st.booleans(), st.booleans()),
    max_size=60)
policies = st.builds(Policy, keep_days=st.integers(0, 60), keep_last=st.integers(0, 5),
                     monthly_months=st.integers(0, 14), monthly_forever=st.booleans(),
                     legal_hold=st.booleans())


def bounded_plan(copies: list[Copy], policy: Policy, now: datetime) -> list[planner.Decision]:
    decisions = []
    for name in {c.database for c in copies}:
        mine = [c for c in copies if c.database == name]
        deciding = planner.deciding_ids(mine, policy, now)
        chosen = [c for c in mine if c.id in deciding]
        decisions += planner.plan_database(chosen, policy, now)
        judged = planner.newest_judged(chosen)
        decisions += [planner.decide_alone(c, policy, now, judged) for c in mine if c.id not in deciding]
    return sorted(decisions, key=lambda d: (d.taken_at, d.copy_id))


@settings(max_examples=400, deadline=None)
@given(rows=copies_strategy, policy=policies)
def test_planning_the_deciding_copies_decides_every_copy_as_planning_all(rows, policy):
    copies = [Copy(id=n + 1, database=db, taken_at=NOW - timedelta(hours=hours), verification=verdict,
                   legal_hold=hold, archived=archived)
              for n, (db, hours, verdict, hold, archived) in enumerate(rows)]

    assert bounded_plan(copies, policy, NOW) == planner.plan(copies, policy, NOW).decisions


def test_a_copy_outside_the_deciding_set_of_a_frozen_database_is_kept_with_the_reason():
    copies = [Copy(1, "a", NOW - timedelta(days=40)), Copy(2, "a", NOW - timedelta(days=39)),
              Copy(3, "a", NOW - timedelta(days=1), Verdict.FAILED)]
    policy = Policy(keep_days=7, keep_last=1)

    assert planner.deciding_ids(copies, policy, NOW) == {3}
    decision = planner.decide_alone(copies[0], policy, NOW, planner.newest_judged(copies))
    assert decision.rule == planner.Rule.FAILED_VERIFICATION and not decision.delete
    assert "failed verification" in decision.reason


def test_the_tier_preview_shows_what_the_applier_would_do(db):
    """The database half: the window query's deciding copies and the SQL categories give, page by page, the
    decisions of the applier's full plan (monthly keepers, an archived copy, holds, a frozen database)."""
    from django.utils import timezone

    from backups.models import Artifact, BackupRun, Database, RetentionPolicy, Tier, Verification
    from backups.retention.applier import plan_for_tier
    from backups.retention.preview import RetentionPreview

    tier = Tier.objects.get(name="local")
    tier.archive_prefix = "archive/"
    tier.save()
    RetentionPolicy.objects.update_or_create(tier=tier, defaults={"keep_days": 10, "keep_last": 2,
                                                                  "monthly_months": 6})
    now = timezone.now()
    for d, name in enumerate(["alpha", "beta", "gamma"]):
        database = Database.objects.create(name=name, dbname=name)
        for i in range(0, 420, 9 + d):
            at = now - timedelta(days=i, hours=d)
            run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, created_at=at,
                                           started_at=at)
            copy = Artifact.objects.create(run=run, tier=tier, location=f"{'archive/' if i % 5 == 0 else ''}x/{i}",
                                           created_at=at, legal_hold=i % 7 == 0)
            if i % 3 == 0:
                Verification.objects.create(artifact=copy, status="passed", created_at=at)
            if name == "beta" and i == 0:  # a newer check failed: beta is frozen
                Verification.objects.create(artifact=copy, status="failed", created_at=at + timedelta(hours=1))

    full = plan_for_tier(tier, now)
    preview = RetentionPreview(tier, now)
    expected = sorted(full.decisions, key=lambda d: (not d.delete, not d.refused, d.taken_at, d.copy_id))

    assert (preview.total, preview.deletions, preview.refusals) == (
        len(full.decisions), len(full.deletions), len(full.refusals))
    assert any(d.rule == "newer_copies_failed_verification" for d in full.decisions)
    assert any(d.rule == "monthly" for d in full.decisions) and full.deletions
    shown = [row["decision"] for start in range(0, preview.total, 25) for row in preview[start:start + 25]]
    assert shown == expected


def _awkward_tier(now):
    """A tier with what the walks could get wrong: two copies of a database taken at the same instant, a run that
    never started (its time is created_at), a copy dated next month, a database whose copies are all held, one
    with copies only in another tier, a failed run's stored copy and a deleted copy (neither planned), verdicts
    that changed, an archived copy, a frozen database."""
    from backups.models import Artifact, BackupRun, Database, Tier, Verification

    tier = Tier.objects.get(name="local")
    tier.archive_prefix = "archive/"
    tier.save()
    other = Tier.objects.create(name="elsewhere", kind=Tier.Kind.LOCAL, path="/tmp/elsewhere")

    def copy(database, at, *, tier=tier, verdicts=(), started=True, **fields):
        status = fields.pop("run_status", BackupRun.Status.SUCCEEDED)
        run = BackupRun.objects.create(database=database, status=status, created_at=at,
                                       started_at=at if started else None)
        artifact = Artifact.objects.create(run=run, tier=tier, location=fields.pop("location", f"x/{run.pk}"),
                                           created_at=at, **fields)
        for n, verdict in enumerate(verdicts):
            Verification.objects.create(artifact=artifact, status=verdict, created_at=at + timedelta(hours=n + 1))
        return artifact

    alpha, beta, held, absent = (Database.objects.create(name=n, dbname=n) for n in ("alpha", "beta", "held", "absent"))
    for day in range(0, 200, 3):
        at = now - timedelta(days=day, hours=1)
        copy(alpha, at, verdicts=["passed"] if day % 9 == 0 else ["passed", "failed"] if day % 10 == 0 else [],
             location=f"archive/a/{day}" if day % 33 == 0 else f"a/{day}")
        copy(beta, at - timedelta(minutes=5), verdicts=["failed"] if day == 0 else ["passed"] if day % 4 == 0 else [],
             started=day % 5 != 0)
        copy(held, at, legal_hold=True)
        copy(absent, at, tier=other)
    twin = now - timedelta(days=61)  # two copies of alpha taken at the same instant
    copy(alpha, twin, verdicts=["passed"])
    copy(alpha, twin, verdicts=["passed"])
    copy(alpha, now + timedelta(days=40))  # a clock ahead: next month's copy
    copy(beta, now - timedelta(days=90), run_status=BackupRun.Status.FAILED)  # not planned
    copy(alpha, now - timedelta(days=120), status=Artifact.Status.DELETED, deleted_at=now)  # not planned
    return tier


@pytest.mark.parametrize("policy", [
    {"keep_days": 10, "keep_last": 2, "monthly_months": 6},
    {"keep_days": 0, "keep_last": 0, "monthly_months": 1},
    {"keep_days": 30, "keep_last": 40, "monthly_forever": True},
    {"keep_days": 5, "keep_last": 1, "monthly_months": 0},
    {"keep_days": 5, "keep_last": 3, "legal_hold": True},
], ids=["window", "current-month", "forever", "no-monthly", "legal-hold"])
def test_the_walks_find_every_deciding_copy_of_an_awkward_tier(db, policy):
    """The index walks pick each database's deciding copies (ties, times from created_at, a future month, holds,
    the archive prefix, a tier's absent database): the preview equals the applier's full plan, counts and pages."""
    from django.utils import timezone

    from backups.models import RetentionPolicy
    from backups.retention.applier import plan_for_tier
    from backups.retention.preview import RetentionPreview

    now = timezone.now()
    tier = _awkward_tier(now)
    RetentionPolicy.objects.update_or_create(tier=tier, defaults=policy)

    full = plan_for_tier(tier, now)
    preview = RetentionPreview(tier, now)
    expected = sorted(full.decisions, key=lambda d: (not d.delete, not d.refused, d.taken_at, d.copy_id))

    assert (preview.total, preview.deletions, preview.refusals) == (
        len(full.decisions), len(full.deletions), len(full.refusals))
    assert [row["decision"] for row in preview[0:preview.total]] == expected
    shown = [row["decision"] for start in range(0, preview.total, 17) for row in preview[start:start + 17]]
    assert shown == expected
