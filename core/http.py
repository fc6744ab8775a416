"""The one way a view answers a POST: back to a page, as a client redirect for htmx or a plain redirect."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, resolve_url
from django_htmx.http import HttpResponseClientRedirect


def back_to(request, to) -> HttpResponse:
    """`to` is a model (its get_absolute_url), a URL name or a URL, as for django.shortcuts.redirect."""
    return HttpResponseClientRedirect(resolve_url(to)) if request.htmx else redirect(to)


def form_errors(form) -> str:
    """Every error of an invalid form in one line, for a refusal message."""
    return "; ".join(e for errors in form.errors.values() for e in errors)
