"""Every job ends by evaluating the alert rules over the whole catalog (alerts.receivers): at a fleet's scale the
rules must cost the same whatever the number of databases, and still say exactly what the per-database model path
(Database.backup_tiers, Database.freshness, a database's newest finished run) says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Kind
from alerts.rules import backup_failed, backup_warnings, current_conditions, freshness, upload_failed
from backups.models import Artifact, BackupRun, Database, Freshness, Tier, Verification

FINISHED = (BackupRun.Status.SUCCEEDED, BackupRun.Status.FAILED, BackupRun.Status.ABANDONED)
STATES = ("fresh", "late", "never-old", "never-new", "failed", "abandoned", "warnings", "upload-failed",
          "unverified-strict", "own-tiers", "archived", "running-after-failure")


def _run(database: Database, hours_ago: float, status=BackupRun.Status.SUCCEEDED, **fields) -> BackupRun:
    at = timezone.now() - timedelta(hours=hours_ago)
    return BackupRun.objects.create(database=database, status=status, created_at=at, started_at=at,
                                    finished_at=at + timedelta(minutes=1), size_bytes=10, **fields)


def _copy(run: BackupRun, tier: Tier, status=Artifact.Status.STORED, verdict: str | None = None) -> Artifact:
    copy = Artifact.objects.create(run=run, tier=tier, location=f"/x/{run.pk}/{tier.pk}", size_bytes=10,
                                   status=status, created_at=run.created_at)
    if verdict:
        Verification.objects.create(artifact=copy, status=verdict, created_at=run.created_at,
                                    started_at=run.created_at, finished_at=run.created_at)
        Artifact.objects.filter(pk=copy.pk).update(last_verdict=verdict)
    return copy


def _fleet(copies: int) -> dict[str, list[Database]]:
    """`copies` databases in each of STATES, over a plain tier and a tier where only verified copies count."""
    plain = Tier.objects.get(name="local")
    strict, _ = Tier.objects.get_or_create(name="strict", defaults={
        "kind": Tier.Kind.LOCAL, "path": "/tmp/strict", "require_verified": True, "position": 5})
    made: dict[str, list[Database]] = {}
    first = Database.objects.count()
    for i in range(first, first + copies):
        for state in STATES:
            db = Database.objects.create(name=f"{state}-{i}", dbname=f"d{i}", rpo_hours=24,
                                         enabled=state != "archived")
            made.setdefault(state, []).append(db)
            if state != "never-new":  # protected for longer than its RPO
                Database.objects.filter(pk=db.pk).update(created_at=timezone.now() - timedelta(days=30))
            if state in ("fresh", "archived", "warnings", "upload-failed", "unverified-strict", "own-tiers",
                         "running-after-failure", "failed", "abandoned"):
                good = _run(db, 30 if state in ("failed", "abandoned", "running-after-failure") else 2,
                            warnings=["globals not saved"] if state == "warnings" else [])
                _copy(good, plain)
                _copy(good, strict, verdict=None if state == "unverified-strict" else Verification.Status.PASSED)
            if state == "late":
                old = _run(db, 48)
                _copy(old, plain)
                _copy(old, strict, verdict=Verification.Status.PASSED)
            if state in ("failed", "abandoned"):
                _run(db, 1, status=state)
                _run(db, 0.5, status=BackupRun.Status.QUEUED)  # not finished: the failure still stands
            if state == "running-after-failure":
                _run(db, 3, status=BackupRun.Status.FAILED)
                _run(db, 0.1, status=BackupRun.Status.RUNNING)
            if state == "upload-failed":
                later = _run(db, 1)
                _copy(later, plain)
                _copy(later, strict, status=Artifact.Status.FAILED)
            if state == "own-tiers":
                db.tiers.set([plain])  # the strict tier is not this database's: no condition there
    return made


def _model_path(now) -> set[str]:
    """The conditions' keys as the per-database model API answers them (one database, one tier at a time)."""
    keys = set()
    for database in Database.objects.all():
        newest = database.runs.filter(status__in=FINISHED).order_by("-created_at").first()
        if newest is not None and newest.status != BackupRun.Status.SUCCEEDED:
            keys.add(f"{Kind.BACKUP_FAILED}:database:{database.pk}")
        if newest is not None and newest.has_warnings:
            keys.add(f"{Kind.BACKUP_WARNINGS}:database:{database.pk}")
        for tier in Tier.objects.filter(enabled=True):
            attempts = Artifact.objects.filter(run__database=database, tier=tier).order_by("-run__created_at", "-pk")
            if (attempt := attempts.first()) is not None and attempt.status == Artifact.Status.FAILED:
                keys.add(f"{Kind.UPLOAD_FAILED}:database:{database.pk}:tier:{tier.pk}")
        if not database.enabled:
            continue
        for tier in database.backup_tiers():
            report = database.freshness(tier, now)
            ever = Artifact.objects.filter(run__database=database, tier=tier, status=Artifact.Status.STORED).exists()
            if report.status == Freshness.LATE or (
                    report.status == Freshness.NEVER and (database.created_at <= now - database.rpo or ever)):
                keys.add(f"{Kind.FRESHNESS}:database:{database.pk}:tier:{tier.pk}")
    return keys


RULES = (backup_failed, backup_warnings, freshness, upload_failed)


def _keys(now) -> set[str]:
    return {c.key for rule in RULES for c in rule(now)}


def test_the_rules_say_what_the_model_path_says_for_every_state(db):
    made = _fleet(2)
    now = timezone.now()
    keys = _keys(now)
    assert keys == _model_path(now)

    def about(key: str) -> tuple[str, int, int | None]:
        kind, _, database, *tier = key.split(":")  # "<kind>:database:<pk>[:tier:<pk>]"
        return kind, int(database), int(tier[1]) if tier else None

    def has(kind, state, tier=None):  # every database of the state has the condition (in that tier, if given)
        return all(any(k == kind and d == db.pk and (tier is None or t == tier.pk) for k, d, t in map(about, keys))
                   for db in made[state])

    strict = Tier.objects.get(name="strict")
    # and what a DBA expects of each state, said without the oracle
    assert has(Kind.BACKUP_FAILED, "failed") and has(Kind.BACKUP_FAILED, "abandoned")
    assert has(Kind.BACKUP_FAILED, "running-after-failure")
    assert has(Kind.BACKUP_WARNINGS, "warnings") and has(Kind.UPLOAD_FAILED, "upload-failed", strict)
    assert has(Kind.FRESHNESS, "late") and has(Kind.FRESHNESS, "never-old")
    assert has(Kind.FRESHNESS, "unverified-strict", strict)
    for quiet in ("fresh", "never-new", "own-tiers", "archived"):
        assert not {about(k)[1] for k in keys} & {db.pk for db in made[quiet]}, quiet


def test_a_condition_carries_the_database_and_tier_it_is_about(db):
    made = _fleet(1)
    now = timezone.now()
    late = {c.key: c for c in freshness(now)}
    db = made["late"][0]
    condition = late[f"{Kind.FRESHNESS}:database:{db.pk}:tier:{Tier.objects.get(name='local').pk}"]
    assert condition.database == db and condition.tier.name == "local"
    assert condition.message == f"The newest good copy of {db.name} in local is 48.0 h old (RPO 24 h)."
    failed = {c.key: c for c in backup_failed(now)}[f"{Kind.BACKUP_FAILED}:database:{made['failed'][0].pk}"]
    assert failed.database == made["failed"][0] and "failed" in failed.message


@pytest.mark.parametrize("rule", [*RULES, current_conditions], ids=lambda r: r.__name__)
def test_a_rule_costs_the_same_queries_for_twelve_databases_and_for_sixty(db, rule):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            result = rule(timezone.now())
            list(result.conditions if hasattr(result, "conditions") else result)
        return len(captured)

    _fleet(1)
    few = queries()
    _fleet(4)
    assert Database.objects.count() == 5 * len(STATES)
    assert queries() == few
