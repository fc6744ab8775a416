from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from backups.models import Database
from core.roles import SIGN_OFF_DRILL
from drills.calendar import first_sunday_of_next_month
from drills.models import ChecklistTemplate, DrillStep, FollowUp, Participant, Scenario


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class ScheduleForm(forms.Form):
    scenario = forms.ModelChoiceField(Scenario.objects.all())
    checklist = forms.ModelChoiceField(ChecklistTemplate.objects.all())
    database = forms.ModelChoiceField(Database.objects.all())
    planned_at = forms.DateTimeField(label="Planned at (UTC)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    title = forms.CharField(required=False, max_length=200)
    simulated = forms.BooleanField(required=False, help_text="A tabletop rehearsal: never counted as a real drill.")
    lead = forms.ModelChoiceField(_people())
    scribe = forms.ModelChoiceField(_people())
    approver = forms.ModelChoiceField(_people(), help_text="A Team lead who does not run the drill: the only person "
                                                          "who may sign it off.")
    attendees = forms.ModelMultipleChoiceField(_people(), required=False)

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("lead", "scribe", "approver", "attendees"):
            self.fields[name].queryset = _people()
        self.fields["planned_at"].initial = first_sunday_of_next_month(timezone.now()).strftime("%Y-%m-%dT%H:%M")
        self.fields["checklist"].initial = ChecklistTemplate.objects.filter(name__startswith="Monthly").first()
        if user is not None:
            self.fields["lead"].initial = user.pk

    def participants(self) -> list[tuple[object, str]]:
        data = self.cleaned_data
        named = [(data["lead"], Participant.Role.LEAD), (data["scribe"], Participant.Role.SCRIBE)]
        if data.get("approver"):
            named.append((data["approver"], Participant.Role.APPROVER))
        taken = {u.pk for u, _ in named}
        named += [(u, Participant.Role.ATTENDEE) for u in data.get("attendees") or [] if u.pk not in taken]
        return named

    def clean(self):
        data = super().clean()
        roles = [data.get(k) for k in ("lead", "scribe", "approver") if data.get(k)]
        if len({u.pk for u in roles}) != len(roles):
            raise forms.ValidationError("Lead, scribe and approver must be different people.")
        approver = data.get("approver")
        if approver is not None and not approver.has_perm(SIGN_OFF_DRILL):
            self.add_error("approver", f"{approver.get_username()} is not a Team lead: only a Team lead approves.")
        return data


class TickForm(forms.Form):
    status = forms.ChoiceField(choices=[c for c in DrillStep.Status.choices if c[0] != DrillStep.Status.PENDING],
                               initial=DrillStep.Status.DONE)
    notes = forms.CharField(required=False, max_length=2000)


class FollowUpForm(forms.Form):
    finding = forms.CharField(max_length=2000)
    action = forms.CharField(max_length=2000)
    owner = forms.ModelChoiceField(_people())
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()


class FollowUpStatusForm(forms.Form):
    status = forms.ChoiceField(choices=FollowUp.Status.choices)


class TextForm(forms.Form):
    text = forms.CharField(max_length=5000)


class SignOffForm(forms.Form):
    statement = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
