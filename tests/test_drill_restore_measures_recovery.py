"""A drill's "restore the latest backup" runs the real restore and measures recovery time and integrity itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from backups.engine import pipeline
from drills import conduct, recovery
from drills.errors import DrillError
from drills.models import Drill, DrillStep, Outcome
from tests.drill_helpers import ANNUAL, make_drill


@pytest.fixture
def cleanup(pg_server):
    names: list[str] = []
    yield names
    for name in names:
        pg_server.drop_database(name)


def _restore(drill: Drill, user, cleanup: list[str]) -> Drill:
    record = recovery.queue_restore(drill, user)
    cleanup.append(record.target_database)
    return Drill.objects.get(pk=drill.pk)


def test_drill_restore_records_real_recovery_time_and_full_integrity(
        learning_db, local_tier, tasks_inline, team_lead, dba, pg_server, cleanup):
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded"
    drill = make_drill(team_lead, dba, database=learning_db)

    drill = _restore(drill, team_lead, cleanup)

    assert drill.restore.status == "succeeded", drill.restore.error
    assert drill.restore.artifact.run_id == run.pk
    assert drill.restored_database.startswith(f"lifeboat_drill_{drill.pk}_")
    # The restored database is real: counted on the server, not copied from the record.
    assert pg_server.query(drill.restored_database, "SELECT count(*) FROM users")[0][0] == 250
    assert drill.integrity["public.users"] == {"expected": 250, "actual": 250}
    assert set(drill.integrity) == {"public.users", "public.lessons", "public.problems"}
    assert drill.integrity_ok is True and drill.integrity_percent == 100
    assert 0 < drill.restore_seconds <= drill.recovery_seconds < 600
    assert drill.backup_age_seconds is not None and drill.backup_age_seconds < 600
    outcomes = {c.name: c.outcome for c in drill.criteria()}
    assert outcomes["Recovered within the scenario's RTO"] == Outcome.PASS
    assert outcomes["100% data integrity"] == Outcome.PASS
    automated = {s.automation: s.status for s in drill.steps.exclude(automation="")}
    assert automated == {"backup": "done", "restore": "done", "integrity": "done", "timing": "done"}
    assert AuditEvent.objects.filter(action="drill.recovery_measured", target_id=str(drill.pk)).exists()

    conduct.complete(drill, team_lead)
    drill.refresh_from_db()
    assert drill.restored_dropped_at is not None
    assert not pg_server.database_exists(drill.restored_database)


def test_drill_that_exceeds_its_rto_fails_that_criterion(
        learning_db, local_tier, tasks_inline, team_lead, dba, cleanup):
    pipeline.backup(learning_db)
    drill = make_drill(team_lead, dba, database=learning_db, scenario="server-failure", checklist=ANNUAL)
    with time_machine.travel(timezone.now(), tick=True) as clock:
        conduct.start(drill, team_lead)
        clock.shift(timedelta(minutes=45))  # the team took 45 minutes to get to the restore: RTO is 30
        drill = _restore(drill, team_lead, cleanup)

    assert drill.recovery_seconds > 45 * 60
    outcomes = {c.name: c.outcome for c in drill.criteria()}
    assert outcomes["Recovered within the scenario's RTO"] == Outcome.FAIL
    assert outcomes["Recovery completed within 30 minutes"] == Outcome.FAIL
    assert outcomes["Restored backup within the scenario's RPO"] == Outcome.PASS
    assert outcomes["100% data integrity"] == Outcome.PASS
    tick_rest = drill.steps.filter(status=DrillStep.Status.PENDING)
    for step in tick_rest:
        conduct.tick(step, team_lead)
    conduct.complete(drill, team_lead)
    assert Drill.objects.get(pk=drill.pk).result() == "partial"


def test_row_counts_that_differ_from_the_backups_record_fail_integrity(
        learning_db, local_tier, tasks_inline, team_lead, dba, cleanup):
    run = pipeline.backup(learning_db)
    run.row_counts = {**run.row_counts, "public.users": 251}  # the record says one more row than the dump has
    run.save(update_fields=["row_counts"])
    drill = _restore(make_drill(team_lead, dba, database=learning_db), team_lead, cleanup)

    assert drill.integrity_ok is False
    assert drill.integrity["public.users"] == {"expected": 251, "actual": 250}
    assert {c.name: c.outcome for c in drill.criteria()}["100% data integrity"] == Outcome.FAIL
    assert drill.steps.get(automation="integrity").status == DrillStep.Status.FAILED


def test_restore_refused_without_a_backup_and_for_a_simulated_drill(learning_db, local_tier, team_lead, dba):
    with pytest.raises(DrillError, match="no good backup"):
        recovery.queue_restore(make_drill(team_lead, dba, database=learning_db), team_lead)
    with pytest.raises(DrillError, match="simulated"):
        recovery.queue_restore(make_drill(team_lead, dba, database=learning_db, simulated=True), team_lead)


def test_a_failed_restore_is_recorded_and_fails_the_drills_criteria(
        learning_db, local_tier, tasks_inline, team_lead, dba, pg_server, cleanup):
    from pathlib import Path

    run = pipeline.backup(learning_db)
    artifact = run.artifacts.get(tier=local_tier)
    Path(artifact.location).write_bytes(b"not a zstd stream")  # the stored copy is damaged
    drill = _restore(make_drill(team_lead, dba, database=learning_db), team_lead, cleanup)

    assert drill.restore.status == "failed" and drill.restore.error
    assert drill.recovery_seconds is None and drill.integrity_ok is None
    assert drill.steps.get(automation="restore").status == DrillStep.Status.FAILED
    assert not pg_server.database_exists(drill.restored_database)  # nothing half-restored is left behind
    conduct.complete(drill, team_lead)
    drill = Drill.objects.get(pk=drill.pk)
    assert {c.name: c.outcome for c in drill.criteria()}["Recovered within the scenario's RTO"] == Outcome.FAIL
    assert drill.result() == "fail"
    assert recovery.run(drill.pk, drill.restore_id) == "not queued"  # a task handed out twice runs once
