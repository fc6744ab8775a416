"""Drill pages: the list and calendar, a drill, scenario runbooks, contacts, and the recovery-time history."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from core.charts import time_series_chart
from core.roles import CONDUCT_DRILL
from drills import conduct, health, plan_check
from drills.errors import DrillError
from drills.forms import FollowUpForm, ScheduleForm, SignOffForm, TickForm
from drills.models import Contact, Drill, Participant, Scenario
from drills.record import canonical_record, record_sha256, signed_snapshot

VIEW_DRILL = "drills.view_drill"


@login_required
@permission_required(VIEW_DRILL, raise_exception=True)
def drill_list(request):
    now = timezone.now()
    drills = list(Drill.objects.select_related("scenario", "database", "signoff", "restore")
                  .prefetch_related("participants__user")[:200])
    months: dict[str, list[Drill]] = defaultdict(list)
    for drill in sorted(drills, key=lambda d: d.planned_at):
        months[f"{drill.planned_at:%Y-%m}"].append(drill)
    context = {"now": now, "drills": drills, "months": sorted(months.items(), reverse=True),
               "attention": health.attention(now), "next": health.next_drill_due(now)}
    return render(request, "drills/drill_list.html", context)


@login_required
@permission_required(CONDUCT_DRILL, raise_exception=True)
def schedule(request):
    form = ScheduleForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            drill = conduct.schedule(scenario=data["scenario"], checklist=data["checklist"],
                                     database=data["database"], planned_at=data["planned_at"],
                                     participants=form.participants(), user=request.user, title=data["title"],
                                     simulated=data["simulated"])
        except DrillError as exc:
            form.add_error(None, str(exc))
        else:
            messages.info(request, f"Drill scheduled for {drill.planned_at:%Y-%m-%d %H:%M} UTC.")
            return redirect(drill)
    return render(request, "drills/schedule.html", {"form": form})


def drill_context(drill: Drill) -> dict:
    now = timezone.now()
    participants = list(drill.participants.select_related("user"))
    return {"drill": drill, "now": now, "status": drill.status(now), "criteria": drill.criteria(),
            "result": drill.result(), "steps": list(drill.steps.select_related("ticked_by")),
            "participants": participants,
            "approver": next((p for p in participants if p.role == Participant.Role.APPROVER), None),
            "follow_ups": list(drill.follow_ups.select_related("owner")),
            "notes": list(drill.notes.select_related("author")), "timeline": drill.timeline(),
            "tick_form": TickForm(), "follow_up_form": FollowUpForm(), "sign_off_form": SignOffForm(),
            "signoff_intact": drill.signoff.record_intact() if drill.is_signed else None}


@login_required
@permission_required(VIEW_DRILL, raise_exception=True)
def detail(request, pk: int):
    drills = Drill.objects.select_related("scenario", "database", "checklist", "restore__artifact__run",
                                          "restore__artifact__tier")
    drill = get_object_or_404(drills, pk=pk)
    partial = request.GET.get("part") if request.htmx else None
    template = f"drills/drill_detail.html#{partial}" if partial in ("live", "checklist") else "drills/drill_detail.html"
    # The last poll of a running restore also refreshes the checklist (out of band): its automated steps are ticked.
    return render(request, template, {**drill_context(drill), "oob": partial == "live"})


@login_required
@permission_required(VIEW_DRILL, raise_exception=True)
def record(request, pk: int):
    """The canonical record (what a sign-off hashes), with its current SHA-256 and the signed one."""
    drill = get_object_or_404(Drill, pk=pk)
    snapshot = signed_snapshot(drill.signoff) if drill.is_signed else None
    body = {"record": canonical_record(drill, snapshot), "sha256": record_sha256(drill, snapshot),
            "signed_sha256": drill.signoff.record_sha256 if drill.is_signed else None}
    return JsonResponse(body, json_dumps_params={"indent": 2})


@login_required
@permission_required("drills.view_scenario", raise_exception=True)
def scenario_list(request):
    scenarios = sorted(Scenario.objects.all(), key=lambda s: (s.rank, s.name))
    return render(request, "drills/scenario_list.html", {"scenarios": scenarios})


@login_required
@permission_required("drills.view_scenario", raise_exception=True)
def scenario(request, slug: str):
    item = get_object_or_404(Scenario, slug=slug)
    drills = item.drills.select_related("database", "signoff").order_by("-planned_at")[:20]
    return render(request, "drills/scenario.html", {"scenario": item, "contacts": Contact.objects.all(),
                                                    "drills": drills, "now": timezone.now(),
                                                    "checks": plan_check.for_scenario(item)})


@login_required
@permission_required("drills.view_contact", raise_exception=True)
def contacts(request):
    return render(request, "drills/contacts.html", {"contacts": Contact.objects.all()})


@login_required
@permission_required(VIEW_DRILL, raise_exception=True)
def history(request):
    """Measured recovery time of real drills, one chart per scenario with its RTO as the target line."""
    charts = []
    measured = (Drill.objects.real().filter(recovery_seconds__isnull=False).select_related("scenario")
                .order_by("validated_at"))
    by_scenario: dict[Scenario, list[Drill]] = defaultdict(list)
    for drill in measured:
        by_scenario[drill.scenario].append(drill)
    for item in sorted(by_scenario, key=lambda s: (s.rank, s.name)):
        drills = by_scenario[item]
        points = [(d.validated_at, d.recovery_seconds) for d in drills]
        chart = time_series_chart(f"{item.name}: measured recovery time", {"recovery time": points}, quantity="seconds",
                              target=item.rto_minutes * 60, target_label=f"RTO {item.rto_label}")
        charts.append({"scenario": item, "chart": chart, "drills": drills})
    return render(request, "drills/history.html", {"charts": charts})

