"""The token page: make a personal API token (shown once), see one's tokens and when each was last used, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from api import tokens
from api.forms import TokenForm
from api.models import ApiToken
from core.http import back_to, form_errors


def _page(request, form: TokenForm, shown: tuple[ApiToken, str] | None = None, status: int = 200):
    now = timezone.now()
    mine = list(ApiToken.objects.filter(owner=request.user).select_related("owner"))
    for token in mine:
        token.effective_expires_at = tokens.effective_expiry(token)
        token.state = "revoked" if token.revoked_at else "expired" if token.effective_expires_at <= now else "active"
    context = {"form": form, "tokens": mine, "shown": shown, "scopes": tokens.scopes_for(request.user)}
    return render(request, "api/tokens.html", context, status=status)


@login_required
def token_list(request):
    if request.method != "POST":
        return _page(request, TokenForm(request.user))
    form = TokenForm(request.user, request.POST)
    if not form.is_valid():
        messages.error(request, "Token not made: " + form_errors(form))
        return _page(request, form, status=400)
    try:
        shown = tokens.issue(request.user, form.cleaned_data["name"], form.cleaned_data["scope"],
                             form.cleaned_data["days"])
    except tokens.TokenRefused as exc:
        messages.error(request, f"Token not made: {exc}")
        return _page(request, form, status=400)
    # Rendered, not redirected: the token is in this response only, never in a session or a message.
    response = _page(request, TokenForm(request.user), shown=shown)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken.objects.select_related("owner"), pk=pk, owner=request.user)
    if tokens.revoke(token):
        messages.info(request, f"Token {token.name} revoked.")
    return back_to(request, "api_tokens")
