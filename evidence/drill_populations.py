"""The drills app's part of the evidence package: drills, their checklist steps, sign-offs and follow-ups, DR
contacts, and the "DR drills" section of summary.html. Loaded by EvidenceConfig.ready().

A drill is in a period when it was planned or performed (declared, completed) in it; its steps, sign-off and
follow-ups go with it, whenever they were recorded. Derived columns (status, pass/fail per criterion, whether
the record still matches its signed hash) are computed from each instance, streamed with iterator().
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from drills import health
from drills.models import Contact, Drill, DrillStep, FollowUp, Participant, SignOff
from drills.models.runbook import minutes_label
from evidence.period import Scope
from evidence.populations import Population, register, register_summary_section

RECOVERY = ("A1.3", "CC7.5", "CC9.1", "A.8.13")  # drills are the recovery plan's tests, restores included


def drills_in(scope: Scope) -> QuerySet:
    """Drills planned, declared or completed in the period, of the selected databases."""
    def within(field: str) -> Q:
        return Q(**{f"{field}__gte": scope.start, f"{field}__lt": scope.end})

    qs = Drill.objects.filter(within("planned_at") | within("started_at") | within("completed_at"))
    if scope.databases:
        qs = qs.filter(database__name__in=scope.databases)
    return qs.order_by("id")


def _drills(scope: Scope) -> QuerySet:
    return (drills_in(scope)
            .select_related("scenario", "checklist", "database", "scheduled_by", "completed_by", "restore",
                            "signoff__signed_by")
            .prefetch_related(Prefetch("participants", Participant.objects.select_related("user")), "steps"))


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


DRILL_FIELDS = (
    "id", "title", "kind", "scenario", "runbook_version", "database", "checklist", "planned_at", "scheduled_by",
    "participants", "status_at_export", "declared_at", "completed_at", "completed_by", "rto_target_minutes",
    "rpo_target_minutes", "max_recovery_minutes", "require_full_integrity", "restore_id", "restore_status",
    "restore_seconds", "measured_rto_seconds", "achieved_rpo_seconds", "validated_at", "integrity_ok",
    "integrity_percent", "integrity", "criteria", "result", "deviations", "signed_off_by", "signed_at",
    "record_sha256",
)


def drill_row(drill: Drill) -> dict[str, Any]:
    signoff = drill.signoff if drill.is_signed else None
    return {
        "id": drill.pk, "title": str(drill), "kind": "simulated" if drill.simulated else "real",
        "scenario": drill.scenario.name, "runbook_version": drill.runbook_version, "database": drill.database.name,
        "checklist": drill.checklist.name, "planned_at": drill.planned_at,
        "scheduled_by": _username(drill.scheduled_by),
        "participants": [[p.user.get_username(), p.role] for p in drill.participants.all()],
        "status_at_export": str(drill.status()), "declared_at": drill.started_at, "completed_at": drill.completed_at,
        "completed_by": _username(drill.completed_by),
        "rto_target_minutes": drill.rto_target_minutes, "rpo_target_minutes": drill.rpo_target_minutes,
        "max_recovery_minutes": drill.max_recovery_minutes, "require_full_integrity": drill.require_full_integrity,
        "restore_id": drill.restore_id, "restore_status": drill.restore.status if drill.restore else None,
        "restore_seconds": drill.restore_seconds, "measured_rto_seconds": drill.recovery_seconds,
        "achieved_rpo_seconds": drill.backup_age_seconds, "validated_at": drill.validated_at,
        "integrity_ok": drill.integrity_ok, "integrity_percent": drill.integrity_percent,
        "integrity": drill.integrity,
        "criteria": [{"name": c.name, "target": c.target, "measured": c.measured, "outcome": c.outcome}
                     for c in drill.criteria()],
        "result": drill.result(), "deviations": drill.deviations,
        "signed_off_by": _username(signoff.signed_by) if signoff else None,
        "signed_at": signoff.signed_at if signoff else None,
        "record_sha256": signoff.record_sha256 if signoff else None,
    }


def sign_off_row(signoff: SignOff) -> dict[str, Any]:
    return {"id": signoff.pk, "drill_id": signoff.drill_id, "drill": str(signoff.drill),
            "signed_by": signoff.signed_by.get_username(), "signed_at": signoff.signed_at,
            "statement": signoff.statement, "record_sha256": signoff.record_sha256,
            "record_still_matches": signoff.record_intact(),
            "record_json": signoff.record_json}


def _steps(scope: Scope) -> QuerySet:
    return DrillStep.objects.filter(drill__in=drills_in(scope).values("id")).order_by("id")


def _sign_offs(scope: Scope) -> QuerySet:
    # The record is re-hashed as stored now: everything canonical_record reads is fetched with it.
    return (SignOff.objects.filter(drill__in=drills_in(scope).values("id")).order_by("id")
            .select_related("signed_by", "drill__scenario", "drill__database", "drill__checklist",
                            "drill__completed_by", "drill__restore__artifact__tier", "drill__signoff")
            .prefetch_related(Prefetch("drill__participants", Participant.objects.select_related("user")),
                              Prefetch("drill__steps", DrillStep.objects.select_related("ticked_by")),
                              Prefetch("drill__follow_ups", FollowUp.objects.select_related("owner"))))


def _follow_ups(scope: Scope) -> QuerySet:
    return FollowUp.objects.filter(drill__in=drills_in(scope).values("id")).order_by("id")


IN_PERIOD = ("planned, declared or completed between start_inclusive and end_exclusive (UTC), of the selected "
             "databases")

register(Population(
    "drills", "DR drills: scenario, targets set beforehand, participants, measured RTO and RPO, integrity, "
    "pass/fail per criterion, sign-off", RECOVERY,
    DRILL_FIELDS,
    _drills,
    f"drills.Drill {IN_PERIOD}; real and simulated (column kind); status_at_export is derived at export time",
    row=drill_row,
))
register(Population(
    "drill_steps", "Drill checklist steps: who ticked each, when, outcome and notes", RECOVERY,
    ("id", "drill_id", "position", "text", "automation", "status", "ticked_by__username", "started_at",
     "finished_at", "notes"),
    _steps,
    f"drills.DrillStep of the drills {IN_PERIOD}",
))
register(Population(
    "drill_sign_offs", "Drill sign-offs: who, when, the statement, the SHA-256 of the record as signed, and whether "
    "the drill's record still hashes to it", ("A1.3", "CC7.5", "CC9.1"),
    ("id", "drill_id", "drill", "signed_by", "signed_at", "statement", "record_sha256", "record_still_matches",
     "record_json"),
    _sign_offs,
    f"drills.SignOff of the drills {IN_PERIOD}, whenever signed; record_still_matches re-hashes the drill's "
    "canonical record (drills/record.py) as stored at export time",
    row=sign_off_row,
))
register(Population(
    "drill_follow_ups", "Drill findings and follow-up actions: owner, due date, status", ("A1.3", "CC7.5", "CC9.1"),
    ("id", "drill_id", "finding", "action", "owner__username", "due_date", "status", "updated_at"),
    _follow_ups,
    f"drills.FollowUp of the drills {IN_PERIOD}; status as it stands at export time",
))
register(Population(
    "dr_contacts", "DR contacts in escalation order, as configured at export time", ("CC9.1",),
    ("id", "escalation_order", "role", "name", "email", "phone", "on_call"),
    lambda scope: Contact.objects.order_by("escalation_order", "id"),
    "drills.Contact: every contact, as configured at export time (changes during the period are in "
    "audit_events.jsonl as config.contact.*)",
    per_period=False,
))


def summary_section(scope: Scope) -> str:
    now = timezone.now()
    drills = []
    for drill in _drills(scope).order_by("planned_at", "id"):
        row = drill_row(drill)
        drills.append(row | {"drill": drill, "rto_target": minutes_label(drill.rto_target_minutes),
                             "rpo_target": minutes_label(drill.rpo_target_minutes),
                             "record_changed": bool(row["record_sha256"]) and not drill.signoff.record_intact()})
    missed = health.missed_between(scope.start, scope.end, now, scope.databases)
    return render_to_string("evidence/drills_summary.html", {"drills": drills, "missed": missed, "now": now})


register_summary_section("DR drills", summary_section)
