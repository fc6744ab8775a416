"""Running a drill: schedule, declare, tick steps, record deviations and follow-ups, complete, sign off.

Each operation checks the drill's state, changes rows, and writes one audit event. Views and the admin call
these; the models refuse changes to a signed drill whatever the caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from audit import trail
from core.roles import SIGN_OFF_DRILL
from drills.errors import DrillError, DrillLocked
from drills.models import (
    ChecklistTemplate,
    Drill,
    DrillNote,
    DrillStep,
    FollowUp,
    Participant,
    Scenario,
    SignOff,
)
from drills.record import record_json, snapshot_json
from drills.signals import drill_completed

MIN_PARTICIPANTS = 2  # the plan: "Participants: 2+ team members"


def _editable(drill: Drill) -> None:
    if drill.is_signed:
        raise DrillLocked("this drill is signed off and locked; add a note to correct it")


def schedule(*, scenario: Scenario, checklist: ChecklistTemplate, database, planned_at: datetime,
             participants: Sequence[tuple[object, str]], user=None, title: str = "",
             simulated: bool = False) -> Drill:
    """Plan a drill with its targets copied from the scenario and checklist, and its steps from the checklist."""
    people = {getattr(u, "pk", None) for u, _ in participants}
    if len(people) < MIN_PARTICIPANTS or len(people) != len(participants):
        raise DrillError(f"a drill needs at least {MIN_PARTICIPANTS} different participants (the plan asks for 2+)")
    with transaction.atomic():
        drill = Drill.objects.create(
            scenario=scenario, checklist=checklist, database=database, planned_at=planned_at, title=title,
            simulated=simulated, runbook_version=scenario.runbook_version, rto_target_minutes=scenario.rto_minutes,
            rpo_target_minutes=scenario.rpo_minutes, max_recovery_minutes=checklist.max_recovery_minutes,
            require_full_integrity=checklist.require_full_integrity, scheduled_by=user,
        )
        Participant.objects.bulk_create(Participant(drill=drill, user=u, role=role) for u, role in participants)
        DrillStep.objects.bulk_create(
            DrillStep(drill=drill, item=item, position=n, text=item.text, automation=item.automation)
            for n, item in enumerate(checklist.items.all(), start=1)
        )
    trail.record("drill.scheduled", actor=user, target=drill,
                 summary=f"{'simulated ' if simulated else ''}drill of {scenario.name} on {database.name} "
                         f"planned for {planned_at:%Y-%m-%d %H:%M} UTC",
                 details={"scenario": scenario.name, "runbook_version": scenario.runbook_version,
                          "checklist": checklist.name, "database": database.name, "planned_at": planned_at,
                          "simulated": simulated, "rto_minutes": scenario.rto_minutes,
                          "rpo_minutes": scenario.rpo_minutes,
                          "participants": [[u.get_username(), role] for u, role in participants]})
    return drill


def start(drill: Drill, user, now: datetime | None = None) -> bool:
    """Declare the drill's incident: the clock for the measured RTO starts now. False if already started."""
    _editable(drill)
    if drill.started_at:
        return False
    drill.started_at = now or timezone.now()
    drill.save(update_fields=["started_at"])
    trail.record("drill.started", actor=user, target=drill, summary=f"drill #{drill.pk} declared: clock started",
                 details={"started_at": drill.started_at})
    return True


def tick(step: DrillStep, user, *, status: str = DrillStep.Status.DONE, notes: str = "") -> DrillStep:
    drill = step.drill
    _editable(drill)
    if status not in DrillStep.Status.values or status == DrillStep.Status.PENDING:
        raise DrillError(f"a step is ticked done, failed or skipped, not {status!r}")
    if not drill.started_at:
        start(drill, user)
    now = timezone.now()
    step.status = status
    step.ticked_by = user
    step.started_at = step.started_at or now
    step.finished_at = now
    if notes.strip():
        step.notes = f"{step.notes}\n{notes.strip()}".strip()
    step.save(update_fields=["status", "ticked_by", "started_at", "finished_at", "notes"])
    trail.record("drill.step_ticked", actor=user, target=drill,
                 summary=f"drill #{drill.pk} step {step.position} {status}: {step.text}"[:300],
                 details={"step": step.pk, "position": step.position, "status": status, "notes": notes.strip()})
    return step


def set_deviations(drill: Drill, user, text: str) -> None:
    _editable(drill)
    drill.deviations = text.strip()
    drill.save(update_fields=["deviations"])
    trail.record("drill.deviations_recorded", actor=user, target=drill,
                 summary=f"drill #{drill.pk} deviations recorded", details={"deviations": drill.deviations})


def add_follow_up(drill: Drill, user, *, finding: str, action: str, owner, due_date: date) -> FollowUp:
    _editable(drill)
    if not finding.strip() or not action.strip():
        raise DrillError("a follow-up needs a finding and an action")
    follow_up = FollowUp.objects.create(drill=drill, finding=finding.strip(), action=action.strip(), owner=owner,
                                        due_date=due_date)
    trail.record("drill.follow_up_added", actor=user, target=drill,
                 summary=f"drill #{drill.pk} follow-up for {owner.get_username()} due {due_date}: {action}"[:300],
                 details={"follow_up": follow_up.pk, "finding": finding, "action": action,
                          "owner": owner.get_username(), "due_date": due_date})
    return follow_up


def set_follow_up_status(follow_up: FollowUp, user, status: str) -> None:
    """Allowed after sign-off too: progress on an action is not part of the signed record."""
    if status not in FollowUp.Status.values:
        raise DrillError(f"unknown follow-up status {status!r}")
    before = follow_up.status
    follow_up.status = status
    follow_up.updated_at = timezone.now()
    follow_up.save(update_fields=["status", "updated_at"])
    trail.record("drill.follow_up_updated", actor=user, target=follow_up.drill,
                 summary=f"drill #{follow_up.drill_id} follow-up #{follow_up.pk}: {before} -> {status}",
                 details={"follow_up": follow_up.pk, "from": before, "to": status})


def add_note(drill: Drill, user, text: str) -> DrillNote:
    if not text.strip():
        raise DrillError("a note needs some text")
    note = DrillNote.objects.create(drill=drill, author=user, text=text.strip(), after_sign_off=drill.is_signed)
    trail.record("drill.note_added", actor=user, target=drill,
                 summary=f"{'correction' if note.after_sign_off else 'note'} on drill #{drill.pk}",
                 details={"note": note.pk, "text": note.text, "after_sign_off": note.after_sign_off})
    return note


def complete(drill: Drill, user) -> None:
    """End the drill; drill_completed makes recovery drop the restored database (a drill leaves nothing)."""
    _editable(drill)
    if drill.completed_at:
        raise DrillError("this drill is already completed")
    if drill.restore_active:
        raise DrillError("the drill's restore is still running; wait for it to finish")
    if not drill.started_at:
        start(drill, user)
    drill.completed_at = timezone.now()
    drill.completed_by = user
    drill.save(update_fields=["completed_at", "completed_by"])
    trail.record("drill.completed", actor=user, target=drill,
                 summary=f"drill #{drill.pk} completed: {drill.result()}",
                 details={"result": drill.result(), "recovery_seconds": drill.recovery_seconds,
                          "backup_age_seconds": drill.backup_age_seconds, "integrity_ok": drill.integrity_ok,
                          "simulated": drill.simulated})
    drill_completed.send(sender=Drill, drill=drill, user=user)


def sign_off(drill: Drill, user, statement: str) -> SignOff:
    """A Team lead who is not the drill's only participant signs the record as it stands; it is then locked."""
    if not user.has_perm(SIGN_OFF_DRILL):
        raise DrillError("only a Team lead may sign a drill off")
    _editable(drill)
    if not drill.completed_at:
        raise DrillError("complete the drill before signing it off")
    if not statement.strip():
        raise DrillError("a sign-off needs a statement")
    if not drill.participants.exclude(user=user).exists():
        raise DrillError("the drill's only participant cannot sign it off: another person must take part")
    with transaction.atomic():
        locked = Drill.objects.select_for_update().get(pk=drill.pk)
        if SignOff.objects.filter(drill=locked).exists():
            raise DrillLocked("this drill is already signed off")
        body = record_json(drill)
        signoff = SignOff.objects.create(drill=drill, signed_by=user, statement=statement.strip(),
                                         record_sha256=hashlib.sha256(body.encode()).hexdigest(),
                                         record_json=body, snapshot_json=snapshot_json(drill))
    drill.signoff = signoff
    trail.record("drill.signed_off", actor=user, target=drill,
                 summary=f"drill #{drill.pk} signed off by {user.get_username()}: {drill.result()}",
                 details={"record_sha256": signoff.record_sha256, "statement": signoff.statement,
                          "result": drill.result()})
    return signoff
