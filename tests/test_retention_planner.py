"""Properties of the pure retention planner, for any copies and any policy (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backups.retention.planner import Copy, Policy, Rule, Verdict, plan

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

policies = st.builds(Policy, keep_days=st.integers(0, 120), keep_last=st.integers(0, 5),
                     monthly_months=st.integers(0, 24), monthly_forever=st.booleans(),
                     legal_hold=st.sampled_from([False] * 9 + [True]))


@st.composite
def copy_sets(draw) -> list[Copy]:
    n = draw(st.integers(0, 40))
    copies = []
    for i in range(n):
        copies.append(Copy(
            id=i + 1, database=draw(st.sampled_from(["dsa_learning", "billing", "auth"])),
            taken_at=NOW - timedelta(minutes=draw(st.integers(0, 800 * 24 * 60))),
            verification=draw(st.sampled_from(list(Verdict))),
            legal_hold=draw(st.sampled_from([False] * 9 + [True])),
            archived=draw(st.booleans())))
    return copies


def newest(copies, predicate=lambda c: True):
    result = {}
    for c in sorted(copies, key=lambda c: (c.taken_at, c.id)):
        if predicate(c):
            result[c.database] = c.id
    return result


@settings(max_examples=300, deadline=None)
@given(copy_sets(), policies)
def test_newest_verified_and_newest_copy_per_database_survive(copies, policy):
    deleted = {d.copy_id for d in plan(copies, policy, NOW).deletions}
    assert not deleted & set(newest(copies, lambda c: c.verification == Verdict.PASSED).values())
    assert not deleted & set(newest(copies).values())
    assert not deleted & {c.id for c in copies if c.legal_hold}


@settings(max_examples=300, deadline=None)
@given(copy_sets(), policies)
def test_every_copy_gets_exactly_one_decision_with_a_reason(copies, policy):
    decisions = plan(copies, policy, NOW).decisions
    assert sorted(d.copy_id for d in decisions) == sorted(c.id for c in copies)
    assert all(d.reason.strip() and d.rule for d in decisions)
    assert all(d.delete == (d.rule == Rule.EXPIRED) for d in decisions)


@settings(max_examples=300, deadline=None)
@given(copy_sets(), policies)
def test_applying_the_plan_twice_deletes_nothing_more(copies, policy):
    first = plan(copies, policy, NOW)
    deleted = {d.copy_id for d in first.deletions}
    survivors = [c for c in copies if c.id not in deleted]
    assert plan(survivors, policy, NOW).deletions == []


@settings(max_examples=300, deadline=None)
@given(copy_sets(), policies)
def test_nothing_is_deleted_when_the_newest_judged_copy_failed_verification(copies, policy):
    decisions = plan(copies, policy, NOW).decisions
    for database in {c.database for c in copies}:
        judged = sorted((c for c in copies if c.database == database and c.verification != Verdict.NONE),
                        key=lambda c: (c.taken_at, c.id))
        if judged and judged[-1].verification == Verdict.FAILED:
            assert not [d for d in decisions if d.database == database and d.delete]


def test_the_plan_keeps_seven_days_and_the_first_copy_of_each_month():
    daily = [Copy(id=i, database="db", taken_at=NOW - timedelta(days=i), verification=Verdict.PASSED)
             for i in range(0, 100)]
    decisions = plan(daily, Policy(keep_days=7, keep_last=3, monthly_forever=True), NOW).decisions
    result = {d.copy_id: d for d in decisions}
    assert all(not result[i].delete for i in range(7)) and result[3].rule == Rule.KEEP_DAYS
    # the oldest copy of each month: the 1st where there is one, the 17 August copy (day 99) for August
    first_of_month = {i for i in range(100) if (NOW - timedelta(days=i)).day == 1} | {99}
    assert {i for i, d in result.items() if d.rule == Rule.MONTHLY} == first_of_month - set(range(7))
    assert {i for i, d in result.items() if d.delete} == set(range(7, 100)) - first_of_month
    assert "older than 7 days" in result[50].reason


def test_a_failed_verification_of_newer_copies_freezes_deletion_and_says_why():
    copies = [Copy(id=1, database="db", taken_at=NOW - timedelta(days=30), verification=Verdict.PASSED),
              Copy(id=2, database="db", taken_at=NOW - timedelta(days=20)),
              Copy(id=3, database="db", taken_at=NOW - timedelta(days=10), verification=Verdict.FAILED),
              Copy(id=4, database="db", taken_at=NOW - timedelta(days=1), verification=Verdict.FAILED)]
    decisions = {d.copy_id: d for d in plan(copies, Policy(keep_days=7, keep_last=1), NOW).decisions}
    assert not any(d.delete for d in decisions.values())
    assert decisions[1].rule == Rule.NEWEST_VERIFIED and decisions[1].refused
    assert decisions[2].rule == Rule.FAILED_VERIFICATION and "failed verification" in decisions[2].reason
