"""What a drill's participants do from its page: every write is a POST, needs a permission, and is audited.

Refusals (a signed drill, a wrong state) come back as a one-line message on the drill page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from backups.errors import LifeboatError
from core.http import back_to, form_errors
from core.roles import CONDUCT_DRILL, SIGN_OFF_DRILL
from drills import conduct, recovery
from drills.errors import DrillError
from drills.forms import FollowUpForm, FollowUpStatusForm, SignOffForm, TextForm, TickForm
from drills.models import Drill, DrillStep, FollowUp
from drills.views import drill_context


def _drill(pk: int) -> Drill:
    return get_object_or_404(Drill.objects.select_related("scenario", "database", "checklist"), pk=pk)


def _refused(request, exc: Exception) -> None:
    messages.error(request, f"Refused: {exc}")


def _act(request, drill: Drill, operation: Callable[[], object], done: Callable[[object], str] | None = None):
    """Run one conduct operation; a refusal becomes a message, success an optional one; back to the drill."""
    try:
        result = operation()
    except (DrillError, LifeboatError) as exc:
        _refused(request, exc)
    else:
        if done:
            messages.info(request, done(result))
    return back_to(request, drill)


def _valid(form, refusal: str):
    """The form's cleaned data, or a DrillError that _act turns into the refusal message."""
    if not form.is_valid():
        raise DrillError(refusal)
    return form.cleaned_data


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def start(request, pk: int):
    drill = _drill(pk)
    return _act(request, drill, lambda: conduct.start(drill, request.user))


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def tick(request, pk: int, step_id: int):
    step = get_object_or_404(DrillStep.objects.select_related("drill"), pk=step_id, drill_id=pk)
    form = TickForm(request.POST)
    try:
        if not form.is_valid():
            raise DrillError(form_errors(form))
        conduct.tick(step, request.user, status=form.cleaned_data["status"], notes=form.cleaned_data["notes"])
    except DrillError as exc:
        _refused(request, exc)
        return back_to(request, step.drill)
    if request.htmx:  # swap the checklist in place: ticking many items should not reload the page each time
        return render(request, "drills/drill_detail.html#checklist", drill_context(_drill(pk)))
    return back_to(request, step.drill)


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def run_restore(request, pk: int):
    drill = _drill(pk)
    return _act(request, drill, lambda: recovery.queue_restore(drill, request.user),
                lambda record: f"Restore into {record.target_database} queued; progress shows below.")


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def drop_restored(request, pk: int):
    drill = _drill(pk)
    name = drill.restored_database
    return _act(request, drill, lambda: recovery.drop_restored(drill, request.user), lambda _: f"{name} dropped.")


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def complete(request, pk: int):
    drill = _drill(pk)
    return _act(request, drill, lambda: conduct.complete(drill, request.user))


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def deviations(request, pk: int):
    drill = _drill(pk)
    return _act(request, drill, lambda: conduct.set_deviations(drill, request.user, request.POST.get("text", "")))


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def add_follow_up(request, pk: int):
    drill = _drill(pk)
    form = FollowUpForm(request.POST)
    refusal = "a follow-up needs a finding, an action, an owner and a due date"
    return _act(request, drill, lambda: conduct.add_follow_up(drill, request.user, **_valid(form, refusal)))


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def follow_up_status(request, pk: int, follow_up_id: int):
    follow_up = get_object_or_404(FollowUp.objects.select_related("drill"), pk=follow_up_id, drill_id=pk)
    form = FollowUpStatusForm(request.POST)
    return _act(request, follow_up.drill, lambda: conduct.set_follow_up_status(
        follow_up, request.user, _valid(form, "unknown follow-up status")["status"]))


@login_required
@require_POST
@permission_required(CONDUCT_DRILL, raise_exception=True)
def add_note(request, pk: int):
    drill = _drill(pk)
    form = TextForm(request.POST)
    return _act(request, drill,
                lambda: conduct.add_note(drill, request.user, _valid(form, "a note needs some text")["text"]))


@login_required
@require_POST
@permission_required(SIGN_OFF_DRILL, raise_exception=True)
def sign_off(request, pk: int):
    drill = _drill(pk)
    form = SignOffForm(request.POST)

    def sign():
        return conduct.sign_off(drill, request.user, _valid(form, "a sign-off needs a statement")["statement"])

    return _act(request, drill, sign, lambda _: "Drill signed off; its record is now locked.")
