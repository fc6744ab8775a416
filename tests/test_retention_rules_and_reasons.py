"""Each retention rule at its edge, in the order the planner applies them, with the reason the dry run and the
tier page show; the safety rules that refuse a deletion; the plan's shape as the JSON dry run prints it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backups.retention.planner import SAFETY_RULES, Copy, Decision, Plan, Policy, Rule, Verdict, plan, plan_database

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def by_id(copies: list[Copy], policy: Policy) -> dict[int, Decision]:
    return {d.copy_id: d for d in plan(copies, policy, NOW).decisions}


def test_the_defaults_keep_seven_days_and_three_copies_with_no_monthly_copies():
    assert Policy() == Policy(keep_days=7, keep_last=3, monthly_months=0, monthly_forever=False, legal_hold=False)
    copy = Copy(1, "db", NOW)
    assert (copy.verification, copy.legal_hold, copy.archived) == (Verdict.NONE, False, False)
    decision = Decision(1, "db", NOW, delete=False, rule=Rule.KEEP_DAYS, reason="r")
    assert decision.archive is False


def test_the_rule_and_verdict_names_are_the_ones_the_dry_run_prints():
    assert [str(v) for v in Verdict] == ["passed", "failed", "none"]
    assert [str(r) for r in Rule] == ["legal_hold", "keep_days", "keep_last", "monthly", "expired",
                                      "newest_verified", "newest", "newer_copies_failed_verification"]
    assert SAFETY_RULES == {Rule.NEWEST_VERIFIED, Rule.NEWEST, Rule.FAILED_VERIFICATION}


def test_a_decision_as_json_carries_its_action_rule_and_whether_safety_refused():
    kept = Decision(1, "db", NOW, delete=False, rule=Rule.NEWEST, reason="kept", archive=True)
    gone = Decision(2, "db", NOW, delete=True, rule=Rule.EXPIRED, reason="old")
    assert kept.as_dict() == {"copy_id": 1, "database": "db", "taken_at": NOW, "delete": False, "rule": "newest",
                              "reason": "kept", "archive": True, "action": "keep", "refused": True}
    assert gone.as_dict()["action"] == "delete" and gone.as_dict()["refused"] is False
    assert type(kept.as_dict()["rule"]) is str


def test_the_plan_lists_deletions_refusals_and_copies_to_archive():
    decisions = [Decision(1, "db", NOW, True, Rule.EXPIRED, "a"),
                 Decision(2, "db", NOW, False, Rule.NEWEST, "b"),
                 Decision(3, "db", NOW, False, Rule.MONTHLY, "c", archive=True),
                 Decision(4, "db", NOW, False, Rule.KEEP_DAYS, "d")]
    result = Plan(decisions)
    assert [d.copy_id for d in result.deletions] == [1]
    assert [d.copy_id for d in result.refusals] == [2]
    assert [d.copy_id for d in result.to_archive] == [3]
    assert Plan().decisions == []


def test_a_tier_under_legal_hold_keeps_everything_and_says_the_tier_is_held():
    copies = [Copy(1, "db", ago(400)), Copy(2, "db", ago(1))]
    result = by_id(copies, Policy(keep_days=0, keep_last=0, legal_hold=True))
    assert all(d.rule == Rule.LEGAL_HOLD and not d.delete for d in result.values())
    assert result[1].reason == "the tier is under legal hold"


def test_a_copy_under_legal_hold_is_kept_and_says_the_copy_is_held():
    copies = [Copy(1, "db", ago(400), legal_hold=True), Copy(2, "db", ago(300)), Copy(3, "db", ago(1))]
    result = by_id(copies, Policy(keep_days=0, keep_last=0))
    assert result[1].rule == Rule.LEGAL_HOLD and result[1].reason == "this copy is under legal hold"
    assert result[2].delete


def test_keep_days_keeps_copies_younger_than_that_and_not_one_exactly_that_old():
    copies = [Copy(1, "db", ago(7)), Copy(2, "db", ago(7) + timedelta(seconds=1)), Copy(3, "db", ago(0))]
    result = by_id(copies, Policy(keep_days=7, keep_last=0))
    assert result[2].rule == Rule.KEEP_DAYS and result[2].reason == "younger than 7 days (6 days old)"
    assert result[1].rule == Rule.EXPIRED and result[1].delete
    assert result[1].reason == "older than 7 days (7 days old), not one of the 0 newest"


def test_keep_last_keeps_exactly_that_many_newest_copies_of_each_database():
    copies = [Copy(i, "db", ago(100 - i)) for i in range(1, 6)] + [Copy(9, "other", ago(90))]
    result = by_id(copies, Policy(keep_days=0, keep_last=2))
    assert [i for i, d in result.items() if d.rule == Rule.KEEP_LAST] == [4, 5, 9]
    assert result[5].reason == "one of the 2 newest copies of db"
    assert [i for i, d in result.items() if d.delete] == [1, 2, 3]


def test_keep_last_of_zero_leaves_the_newest_copy_to_the_safety_rule():
    result = by_id([Copy(1, "db", ago(40)), Copy(2, "db", ago(30))], Policy(keep_days=0, keep_last=0))
    assert result[2].rule == Rule.NEWEST and result[2].refused and not result[2].delete
    assert result[2].reason.startswith("kept: the newest copy of db (older than 0 days (30 days old)")
    assert result[1].delete


def test_the_newest_verified_copy_is_kept_though_newer_unverified_copies_exist():
    copies = [Copy(1, "db", ago(50), verification=Verdict.PASSED), Copy(2, "db", ago(40), verification=Verdict.PASSED),
              Copy(3, "db", ago(30)), Copy(4, "db", ago(20))]
    result = by_id(copies, Policy(keep_days=0, keep_last=0))
    assert result[2].rule == Rule.NEWEST_VERIFIED and not result[2].delete
    assert result[2].reason.startswith("kept: the newest verified copy of db (older than")
    assert result[4].rule == Rule.NEWEST
    assert result[1].delete and result[3].delete


def test_a_newest_judged_copy_that_passed_does_not_freeze_deletion():
    copies = [Copy(1, "db", ago(50), verification=Verdict.FAILED), Copy(2, "db", ago(40), verification=Verdict.PASSED),
              Copy(3, "db", ago(30)), Copy(4, "db", ago(20))]
    result = by_id(copies, Policy(keep_days=0, keep_last=0))
    assert [i for i, d in result.items() if d.delete] == [1, 3]


def test_a_failed_verification_freezes_only_its_own_database_and_names_the_copy():
    copies = [Copy(1, "db", ago(50)), Copy(2, "db", ago(40), verification=Verdict.FAILED),
              Copy(3, "db", ago(30)),
              Copy(4, "other", ago(50)), Copy(5, "other", ago(40))]
    result = by_id(copies, Policy(keep_days=0, keep_last=0))
    assert result[1].rule == Rule.FAILED_VERIFICATION and not result[1].delete
    taken = ago(40).strftime("%Y-%m-%d %H:%M")
    assert f"a newer copy of db (taken {taken}) failed verification" in result[1].reason
    assert result[4].delete and not result[5].delete


def test_copies_never_judged_do_not_freeze_deletion():
    copies = [Copy(1, "db", ago(50)), Copy(2, "db", ago(40)), Copy(3, "db", ago(30))]
    result = by_id(copies, Policy(keep_days=0, keep_last=0))
    assert [i for i, d in result.items() if d.delete] == [1, 2]


def test_no_copies_no_decisions():
    assert plan_database([], Policy(), NOW) == []
    assert plan([], Policy(), NOW).decisions == []


def test_the_plan_lists_every_database_oldest_first_with_ties_by_id():
    copies = [Copy(5, "b", ago(3)), Copy(2, "a", ago(3)), Copy(1, "b", ago(9)), Copy(4, "a", ago(1))]
    result = plan(copies, Policy(), NOW)
    assert [d.copy_id for d in result.decisions] == [1, 2, 5, 4]
    assert [d.database for d in result.decisions] == ["b", "a", "b", "a"]
    assert all(d.taken_at == next(c.taken_at for c in copies if c.id == d.copy_id) for d in result.decisions)
