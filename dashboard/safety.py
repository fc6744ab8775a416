"""The overview's one-line answer to "Are we safe right now?" and the problems behind it, worst first.

Backup problems come from the matrix (backups.web.overview.cell_states); open alerts from the alerts app. An open
alert about a database already listed is not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.timesince import timesince

from alerts.models import Alert, Severity
from backups.models import Freshness, Tier
from backups.web.overview import MatrixRow

RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class Problem:
    severity: str  # critical / warning / info, as alerts use them
    text: str
    link: str = ""
    source: str = "backups"  # or "alert"
    database_id: int | None = None


@dataclass(frozen=True)
class Verdict:
    problems: list[Problem]

    @property
    def safe(self) -> bool:
        return not self.problems

    @property
    def severity(self) -> str:
        return self.problems[0].severity if self.problems else "ok"

    @property
    def headline(self) -> str:
        if self.safe:
            return "All good: every protected database has a fresh copy in every tier and no alert is open."
        count = len(self.problems)
        return f"{count} problem{'s' if count != 1 else ''}. Worst: {self.problems[0].text}"


def _ago(when: datetime, now: datetime) -> str:
    return f"{timesince(when, now).split(',')[0]} ago"


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def backup_problems(rows: list[MatrixRow], tiers: list[Tier], now: datetime) -> list[Problem]:
    problems: list[Problem] = []
    for row in rows:
        db = row.database
        if not db.enabled:
            continue
        if row.failing is None and all(s.check is None and s.report.status == Freshness.OK for s in row.states):
            continue  # nothing to say (most of a healthy fleet): no work per cell below
        before = len(problems)
        link = db.get_absolute_url()
        stale = any(s.report.status in (Freshness.LATE, Freshness.NEVER) for s in row.states)
        if row.failing:
            f = row.failing
            what = "every backup has failed" if f.never_succeeded else "every backup since the last good one failed"
            problems.append(Problem(Severity.CRITICAL if stale else Severity.WARNING,
                                    f"{db.name}: {what}, failing since {f.since:%Y-%m-%d %H:%M} UTC "
                                    f"({f.attempts} attempt{'s' if f.attempts != 1 else ''})", link))
        for tier, state in zip(tiers, row.states, strict=True):
            report = state.report
            if state.check is not None and state.check.status == "failed":
                problems.append(Problem(Severity.CRITICAL, f"{db.name}: the newest copy in {tier.name} failed its "
                                        f"verification {_ago(state.check.finished_at or state.check.created_at, now)}",
                                        state.newest.run.get_absolute_url()))
            if row.failing and report.status == Freshness.NEVER:
                continue  # said above: the failing line is the reason
            if report.status == Freshness.LATE:
                problems.append(Problem(Severity.CRITICAL, f"{db.name}: the newest good copy in {tier.name} is "
                                        f"{_hours(report.age)} old (RPO {db.rpo_hours} h)", link))
            elif report.status == Freshness.NEVER:
                problems.append(Problem(Severity.WARNING, f"{db.name}: no copy in {tier.name} yet", link))
            elif report.status == Freshness.DUE:
                problems.append(Problem(Severity.WARNING, f"{db.name}: the newest good copy in {tier.name} is "
                                        f"{_hours(report.age)} old, due soon (RPO {db.rpo_hours} h)", link))
        problems[before:] = [Problem(p.severity, p.text, p.link, p.source, db.pk) for p in problems[before:]]
    return problems


def alert_problems(alerts: list[Alert], already: set[int]) -> list[Problem]:
    return [Problem(a.severity, a.title, a.get_absolute_url(), "alert") for a in alerts
            if a.database_id is None or a.database_id not in already]


def verdict(rows: list[MatrixRow], tiers: list[Tier], alerts: list[Alert], now: datetime | None = None) -> Verdict:
    now = now or timezone.now()
    problems = backup_problems(rows, tiers, now)
    problems += alert_problems(alerts, {p.database_id for p in problems if p.database_id is not None})
    return Verdict(sorted(problems, key=lambda p: RANK.get(p.severity, 3)))
