"""The states the browser walk looks at, made through the ORM inside the served app (`manage.py shell -c`):
a database whose newest copy failed its verification, one whose backups have been failing since its last good one,
an open alert, people in every role, and a completed drill waiting for its named approver.

Names sort after "learning" so the other browser tests' first "Back up now" still backs up theirs."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

PASSWORD = "correct-horse-battery"


def _run(database, tier, *, at, status="succeeded", error=""):
    from backups.models import Artifact, BackupRun

    run = BackupRun.objects.create(database=database, status=status, created_at=at, started_at=at,
                                   finished_at=at + timedelta(minutes=2), size_bytes=48_000 if not error else None,
                                   raw_size_bytes=200_000 if not error else None, error=error,
                                   log="pg_dump: dumping contents of table public.users\n")
    copy = None
    if status == "succeeded":
        copy = Artifact.objects.create(run=run, tier=tier, location=f"/nowhere/{database.name}/{run.pk}.dump.zst",
                                       sha256="0" * 64, size_bytes=48_000, created_at=at)
    return run, copy


def seed(server_host: str, server_port: int) -> dict:
    from alerts.models import Alert
    from backups.models import Database, Tier, Verification
    from drills import conduct
    from drills.models import ChecklistTemplate, Participant, Scenario

    for name, role in [("audrey", "Auditor"), ("ada", "Admin")]:
        # get_or_create: another browser test on the same served app may have made this person already.
        user, _ = User.objects.get_or_create(username=name)
        user.set_password(PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=role))
    now = timezone.now()
    local = Tier.objects.get(name="local")
    common = {"host": server_host, "port": server_port, "user": "postgres", "rpo_hours": 24}

    # payroll: backed up an hour ago, but that copy failed its restore test.
    payroll = Database.objects.create(name="payroll", dbname="lbt_walk_payroll_absent", **common)
    _run(payroll, local, at=now - timedelta(days=1))
    run, copy = _run(payroll, local, at=now - timedelta(hours=2))
    Verification.objects.create(artifact=copy, status=Verification.Status.FAILED, created_at=now - timedelta(hours=1),
                                finished_at=now - timedelta(hours=1), error="row counts differ: public.users",
                                checks=[{"name": "row_counts", "ok": False, "detail": "public.users 240 != 250"}])

    # reports: one good copy three days ago, every attempt since failed.
    reports = Database.objects.create(name="reports", dbname="lbt_walk_reports_absent", **common)
    _, good = _run(reports, local, at=now - timedelta(days=3))
    Verification.objects.create(artifact=good, status=Verification.Status.PASSED, finished_at=now - timedelta(days=3))
    for hours in (50, 26, 2):
        _run(reports, local, at=now - timedelta(hours=hours), status="failed",
             error="could not connect to server: connection refused")
    Alert.objects.create(key=f"backup_failed:database:{reports.pk}", kind="backup_failed", severity="critical",
                         title="Backup of reports failed", message="could not connect to server: connection refused",
                         link=reports.get_absolute_url(), database=reports)

    # A completed drill: terry led it and scheduled it, alex is the named approver.
    terry, dana, alex = (User.objects.get(username=n) for n in ("terry", "dana", "alex"))
    drill = conduct.schedule(scenario=Scenario.objects.get(slug="accidental-deletion"),
                             checklist=ChecklistTemplate.objects.order_by("pk").first(), database=payroll,
                             planned_at=now - timedelta(hours=3),
                             participants=[(terry, Participant.Role.LEAD), (dana, Participant.Role.SCRIBE),
                                           (alex, Participant.Role.APPROVER)], user=terry)
    for step in drill.steps.filter(status="pending"):
        conduct.tick(step, terry, notes="checked")
    conduct.complete(drill, terry)
    # A second drill, still under way, for the confirmation dialog ("Complete drill") to be cancelled on.
    open_drill = conduct.schedule(scenario=Scenario.objects.get(slug="accidental-deletion"),
                                  checklist=ChecklistTemplate.objects.order_by("pk").first(), database=reports,
                                  planned_at=now + timedelta(days=2),
                                  participants=[(terry, Participant.Role.LEAD), (dana, Participant.Role.SCRIBE),
                                                (alex, Participant.Role.APPROVER)], user=terry)
    facts = {"payroll_run": run.pk, "signable_drill": drill.pk, "open_drill": open_drill.pk,
             "alert": Alert.objects.get(database=reports).pk, "tier": local.pk}
    print(json.dumps(facts))
    return facts
