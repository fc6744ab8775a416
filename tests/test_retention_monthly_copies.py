"""The retention planner's monthly copies: one per calendar month (UTC), chosen archived-first, then verified,
then oldest; kept while the month is inside the window (or forever); only a chosen copy not yet archived is
marked for the archive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backups.retention.planner import Copy, Policy, Rule, Verdict, monthly_keepers, plan

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
OLD = Policy(keep_days=0, keep_last=1, monthly_forever=True)  # only the newest copy and the monthly ones stay


def at(year: int, month: int, day: int, hour: int = 3) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def decisions(copies: list[Copy], policy: Policy, now: datetime = NOW) -> dict[int, object]:
    return {d.copy_id: d for d in plan(copies, policy, now).decisions}


def test_december_and_january_are_two_months_each_with_its_own_copy():
    copies = [Copy(1, "db", at(2025, 12, 30)), Copy(2, "db", at(2025, 12, 31)),
              Copy(3, "db", at(2026, 1, 1)), Copy(4, "db", at(2026, 1, 2)), Copy(5, "db", at(2026, 3, 14))]
    result = decisions(copies, OLD)
    assert result[1].rule == Rule.MONTHLY and result[3].rule == Rule.MONTHLY
    assert result[2].delete and result[4].delete


def test_the_same_month_of_two_years_is_two_months():
    copies = [Copy(1, "db", at(2024, 2, 10)), Copy(2, "db", at(2025, 2, 10)), Copy(3, "db", at(2026, 3, 14))]
    keepers = monthly_keepers(copies)
    assert sorted(c.id for c in keepers.values()) == [1, 2, 3]


def test_every_calendar_month_of_a_year_of_daily_copies_keeps_exactly_its_first_day():
    start = at(2025, 1, 1)
    copies = [Copy(i, "db", start + timedelta(days=i)) for i in range(365)]
    kept = {c.taken_at.month: c.taken_at.day for c in monthly_keepers(copies).values()}
    assert kept == {month: 1 for month in range(1, 13)}


def test_the_month_is_chosen_archived_first_then_verified_then_oldest():
    oldest = Copy(1, "db", at(2026, 1, 2))
    verified = Copy(2, "db", at(2026, 1, 3), verification=Verdict.PASSED)
    archived = Copy(3, "db", at(2026, 1, 4), archived=True)
    failed = Copy(4, "db", at(2026, 1, 1), verification=Verdict.FAILED)
    assert list(monthly_keepers([oldest, failed]).values()) == [failed]
    assert list(monthly_keepers([oldest, verified, failed]).values()) == [verified]
    assert list(monthly_keepers([verified, oldest, archived]).values()) == [archived]
    assert list(monthly_keepers([archived, verified]).values()) == [archived]
    # a tie in time goes to the lower id, whichever order the copies come in
    same = [Copy(7, "db", at(2026, 1, 5)), Copy(6, "db", at(2026, 1, 5))]
    assert [c.id for c in monthly_keepers(same).values()] == [6]
    assert [c.id for c in monthly_keepers(same[::-1]).values()] == [6]


def test_only_the_chosen_copy_not_yet_archived_is_marked_for_the_archive():
    copies = [Copy(1, "db", at(2026, 1, 2)), Copy(2, "db", at(2026, 1, 9)),
              Copy(3, "db", at(2026, 2, 1), archived=True), Copy(4, "db", at(2026, 2, 8)),
              Copy(5, "db", at(2026, 3, 14))]
    result = plan(copies, Policy(keep_days=30, keep_last=1, monthly_forever=True), NOW)
    assert [d.copy_id for d in result.to_archive] == [1, 5]
    assert {d.copy_id: d.archive for d in result.decisions} == {1: True, 2: False, 3: False, 4: False, 5: True}


def test_nothing_is_marked_for_the_archive_without_monthly_copies():
    copies = [Copy(i, "db", at(2026, 1, 1) + timedelta(days=i)) for i in range(60)]
    result = plan(copies, Policy(keep_days=7, keep_last=3), NOW)
    assert result.to_archive == [] and not any(d.rule == Rule.MONTHLY for d in result.decisions)


def test_a_month_is_kept_while_it_is_inside_the_window_of_monthly_months():
    # March 2026 is month 0 of the window; with monthly_months=2 January (2 months back) is already outside.
    copies = [Copy(1, "db", at(2025, 12, 1)), Copy(2, "db", at(2026, 1, 1)), Copy(3, "db", at(2026, 2, 1)),
              Copy(4, "db", at(2026, 3, 1)), Copy(5, "db", at(2026, 3, 14))]
    result = decisions(copies, Policy(keep_days=0, keep_last=1, monthly_months=2))
    assert [i for i, d in result.items() if d.rule == Rule.MONTHLY] == [3, 4]
    assert result[1].delete and result[2].delete
    assert result[3].reason == "the copy of 2026-02, kept for 2 months (monthly archive)"
    assert result[2].reason.endswith(", not a monthly copy")


def test_monthly_forever_keeps_every_month_and_says_so():
    copies = [Copy(1, "db", at(2019, 6, 5)), Copy(2, "db", at(2019, 6, 6)), Copy(3, "db", at(2026, 3, 14))]
    result = decisions(copies, Policy(keep_days=0, keep_last=1, monthly_months=3, monthly_forever=True))
    assert result[1].rule == Rule.MONTHLY and result[1].reason == "the copy of 2019-06, kept forever (monthly archive)"
    assert result[2].delete
    assert result[2].reason == "older than 0 days (2474 days old), not one of the 1 newest"


def test_without_monthly_copies_the_expiry_reason_does_not_mention_them():
    copies = [Copy(1, "db", at(2026, 1, 1)), Copy(2, "db", at(2026, 3, 14))]
    result = decisions(copies, Policy(keep_days=7, keep_last=1))
    assert result[1].reason == "older than 7 days (73 days old), not one of the 1 newest"


def test_the_window_counts_december_as_the_month_before_january():
    january = datetime(2026, 1, 20, tzinfo=UTC)
    copies = [Copy(1, "db", at(2025, 11, 1)), Copy(2, "db", at(2025, 12, 1)), Copy(3, "db", at(2026, 1, 19))]
    result = decisions(copies, Policy(keep_days=0, keep_last=1, monthly_months=2), january)
    assert result[2].rule == Rule.MONTHLY and result[1].delete
