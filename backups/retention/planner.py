"""The retention planner: given a tier's copies and its policy, which copies to keep and which to delete, and why.

Pure: plain dataclasses in, plain dataclasses out, no ORM and no clock (the caller passes `now`). The dry run,
the tier page and the real run all call `plan()`, so what they show is what a run deletes.

Policy rules (a copy is kept by the first that applies): the tier's or the copy's legal hold; younger than
`keep_days`; one of the `keep_last` newest of its database; the first copy of its month (UTC) while the month is
within `monthly_months`, or forever. A copy no rule keeps expires, unless a safety rule refuses:
- the newest verified copy of a database in the tier is never deleted, nor the newest copy at all;
- when the newest copy whose verification finished failed it, nothing of that database is deleted until a
  newer copy verifies: the older copies may be the last good ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NONE = "none"


@dataclass(frozen=True)
class Copy:
    """One live copy in a tier, as the planner sees it."""

    id: int
    database: str
    taken_at: datetime
    verification: Verdict = Verdict.NONE  # the newest decided verification (passed or failed), else none
    legal_hold: bool = False
    archived: bool = False  # already under the tier's archive prefix


@dataclass(frozen=True)
class Policy:
    keep_days: int = 7
    keep_last: int = 3
    monthly_months: int = 0
    monthly_forever: bool = False
    legal_hold: bool = False


class Rule(StrEnum):
    LEGAL_HOLD = "legal_hold"
    KEEP_DAYS = "keep_days"
    KEEP_LAST = "keep_last"
    MONTHLY = "monthly"
    EXPIRED = "expired"
    # safety rules: they keep what the policy would delete
    NEWEST_VERIFIED = "newest_verified"
    NEWEST = "newest"
    FAILED_VERIFICATION = "newer_copies_failed_verification"


SAFETY_RULES = {Rule.NEWEST_VERIFIED, Rule.NEWEST, Rule.FAILED_VERIFICATION}


@dataclass(frozen=True)
class Decision:
    copy_id: int
    database: str
    taken_at: datetime
    delete: bool
    rule: Rule
    reason: str
    archive: bool = False  # the month's copy, not yet under the archive prefix

    @property
    def refused(self) -> bool:
        """The policy would have deleted this copy; a safety rule kept it."""
        return self.rule in SAFETY_RULES

    @property
    def action(self) -> str:
        return "delete" if self.delete else "keep"

    def as_dict(self) -> dict:
        return {**asdict(self), "rule": str(self.rule), "action": self.action, "refused": self.refused}


@dataclass
class Plan:
    decisions: list[Decision] = field(default_factory=list)

    @property
    def deletions(self) -> list[Decision]:
        return [d for d in self.decisions if d.delete]

    @property
    def refusals(self) -> list[Decision]:
        return [d for d in self.decisions if d.refused]

    @property
    def to_archive(self) -> list[Decision]:
        return [d for d in self.decisions if d.archive]


def _month(when: datetime) -> int:
    return when.year * 12 + when.month - 1


def _order(copy: Copy) -> tuple:
    return (copy.taken_at, copy.id)


def monthly_keepers(copies: list[Copy]) -> dict[int, Copy]:
    """month index -> the copy that stands for it: already archived first, then verified, then the oldest."""
    keepers: dict[int, Copy] = {}
    for copy in copies:
        month = _month(copy.taken_at)
        best = keepers.get(month)
        rank = (not copy.archived, copy.verification != Verdict.PASSED, *_order(copy))
        if best is None or rank < (not best.archived, best.verification != Verdict.PASSED, *_order(best)):
            keepers[month] = copy
    return keepers


def _policy_rule(copy: Copy, rank: int, policy: Policy, now: datetime, monthly_ids: set[int]) -> tuple[Rule, str]:
    if policy.legal_hold:
        return Rule.LEGAL_HOLD, "the tier is under legal hold"
    if copy.legal_hold:
        return Rule.LEGAL_HOLD, "this copy is under legal hold"
    age = now - copy.taken_at
    if age < timedelta(days=policy.keep_days):
        return Rule.KEEP_DAYS, f"younger than {policy.keep_days} days ({age.days} days old)"
    if rank < policy.keep_last:
        return Rule.KEEP_LAST, f"one of the {policy.keep_last} newest copies of {copy.database}"
    if copy.id in monthly_ids:
        kept = "forever" if policy.monthly_forever else f"for {policy.monthly_months} months"
        return Rule.MONTHLY, f"the copy of {copy.taken_at:%Y-%m}, kept {kept} (monthly archive)"
    monthly = "" if policy.monthly_forever else (
        ", not a monthly copy" if policy.monthly_months else "")
    return Rule.EXPIRED, (f"older than {policy.keep_days} days ({age.days} days old), not one of the "
                          f"{policy.keep_last} newest{monthly}")


def _in_window(copy: Copy, policy: Policy, now: datetime) -> bool:
    return policy.monthly_forever or _month(now) - _month(copy.taken_at) < policy.monthly_months


def plan_database(copies: list[Copy], policy: Policy, now: datetime) -> list[Decision]:
    """Decisions for the copies of one database in one tier."""
    newest_first = sorted(copies, key=_order, reverse=True)
    if not newest_first:
        return []
    newest = newest_first[0]
    newest_verified = next((c for c in newest_first if c.verification == Verdict.PASSED), None)
    newest_judged = next((c for c in newest_first if c.verification != Verdict.NONE), None)
    monthly_ids = {c.id for c in monthly_keepers([c for c in copies if _in_window(c, policy, now)]).values()}

    decisions = []
    for rank, copy in enumerate(newest_first):
        rule, reason = _policy_rule(copy, rank, policy, now, monthly_ids)
        if rule == Rule.EXPIRED:
            if newest_verified is not None and copy.id == newest_verified.id:
                rule, reason = Rule.NEWEST_VERIFIED, f"kept: the newest verified copy of {copy.database} ({reason})"
            elif copy.id == newest.id:
                rule, reason = Rule.NEWEST, f"kept: the newest copy of {copy.database} ({reason})"
            else:
                rule, reason = _unless_frozen(copy, reason, newest_judged)
        decisions.append(_decision(copy, rule, reason, archive=copy.id in monthly_ids and not copy.archived))
    return decisions


def _unless_frozen(copy: Copy, reason: str, newest_judged: Copy | None) -> tuple[Rule, str]:
    if newest_judged is not None and newest_judged.verification == Verdict.FAILED:
        return Rule.FAILED_VERIFICATION, (
            f"kept: a newer copy of {copy.database} (taken {newest_judged.taken_at:%Y-%m-%d %H:%M}) failed "
            f"verification, so nothing is deleted until a newer copy verifies ({reason})")
    return Rule.EXPIRED, reason


def _decision(copy: Copy, rule: Rule, reason: str, archive: bool = False) -> Decision:
    return Decision(copy_id=copy.id, database=copy.database, taken_at=copy.taken_at, delete=rule == Rule.EXPIRED,
                    rule=rule, reason=reason, archive=archive)


def deciding_ids(copies: list[Copy], policy: Policy, now: datetime) -> set[int]:
    """The copies of one database the others' decisions depend on: the `keep_last` newest (at least the newest),
    the newest verified and the newest judged one, and the keeper of each month in the monthly window.

    Planning these alone gives each of them the decision planning all would; every other copy is then decided
    by its own fields and the database's newest judged copy (decide_alone). The tier page relies on it to plan a
    bounded set however many copies the tier holds (tests/test_retention_bounded_plan.py proves the equivalence).
    """
    newest_first = sorted(copies, key=_order, reverse=True)
    ids = {c.id for c in newest_first[:max(policy.keep_last, 1)]}
    for wanted in (lambda c: c.verification == Verdict.PASSED, lambda c: c.verification != Verdict.NONE):
        found = next((c for c in newest_first if wanted(c)), None)
        if found is not None:
            ids.add(found.id)
    ids |= {c.id for c in monthly_keepers([c for c in copies if _in_window(c, policy, now)]).values()}
    return ids


def newest_judged(copies: Iterable[Copy]) -> Copy | None:
    """The newest copy whose verification was decided (the deciding set holds it)."""
    return max((c for c in copies if c.verification != Verdict.NONE), key=_order, default=None)


def decide_alone(copy: Copy, policy: Policy, now: datetime, newest_judged: Copy | None) -> Decision:
    """The decision for a copy outside its database's deciding set (deciding_ids): it is not among the newest, not
    a month's keeper, not the newest verified; only its own age and hold and a failed newer verification count."""
    rule, reason = _policy_rule(copy, policy.keep_last, policy, now, set())
    if rule == Rule.EXPIRED:
        rule, reason = _unless_frozen(copy, reason, newest_judged)
    return _decision(copy, rule, reason)


def plan(copies: Iterable[Copy], policy: Policy, now: datetime) -> Plan:
    """Keep/delete decisions for every copy of a tier, oldest first, each with its reason."""
    by_database: dict[str, list[Copy]] = defaultdict(list)
    for copy in copies:
        by_database[copy.database].append(copy)
    decisions = [d for name in sorted(by_database) for d in plan_database(by_database[name], policy, now)]
    return Plan(sorted(decisions, key=lambda d: (d.taken_at, d.copy_id)))
