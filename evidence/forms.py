from __future__ import annotations

from django import forms

from backups.models import Database
from evidence.period import Scope, ScopeError
from evidence.sampling import MAX_SAMPLES


class ScopeForm(forms.Form):
    since = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="First day (UTC)")
    until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Last day, inclusive")
    databases = forms.MultipleChoiceField(required=False, help_text="None selected: all databases")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["databases"].choices = [(n, n) for n in Database.objects.values_list("name", flat=True)]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until"):
            try:
                data["scope"] = Scope.build(data["since"], data["until"], data.get("databases") or ())
            except ScopeError as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


class SampleForm(ScopeForm):
    size = forms.IntegerField(min_value=1, max_value=MAX_SAMPLES, initial=25, label="Samples")
    seed = forms.CharField(required=False, max_length=64, help_text="Empty: Lifeboat picks one and records it")
