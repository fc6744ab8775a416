from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from api import tokens
from api.models import Scope


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. ci-pre-migration-backup")
    scope = forms.ChoiceField(help_text="Read; operate: also back up, verify, restore, export evidence; admin: also "
                                        "create and change databases")
    days = forms.IntegerField(label="Expires in (days)", min_value=1)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [(s, Scope(s).label) for s in tokens.scopes_for(user)]
        limit = tokens.max_days_for(user)
        self.fields["days"].max_value = limit
        self.fields["days"].validators.append(MaxValueValidator(limit))
        self.fields["days"].widget.attrs["max"] = limit
        self.fields["days"].initial = min(settings.LIFEBOAT_API_TOKEN_DEFAULT_DAYS, limit)
        self.fields["days"].help_text = f"1 to {limit}"
