"""The single sign-on round trip (mozilla-django-oidc's views, with the provider's endpoints from discovery) and
sign-out, which also ends the provider's session when the user came through it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, resolve_url
from mozilla_django_oidc import views as oidc_views

from sso import config


class SignInPage(LoginView):
    """The sign-in page: the single sign-on button when a provider is configured, and the password form (which
    says so when only break-glass accounts may use it)."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "sso_enabled": config.enabled(),
                "sso_label": settings.LIFEBOAT_OIDC_SIGN_IN_LABEL,
                "break_glass_only": settings.LIFEBOAT_LOCAL_SIGN_IN == "break-glass"}


class SignIn(oidc_views.OIDCAuthenticationRequestView):
    get_settings = staticmethod(config.get_setting)

    def __init__(self, *args, **kwargs):
        super(oidc_views.OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        if not config.enabled():
            messages.error(request, "Single sign-on is not configured on this Lifeboat.")
            return redirect("login")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = config.provider().authorization_endpoint
        except config.SingleSignOnUnavailable as exc:
            messages.error(request, f"Single sign-on is unavailable: {exc}. Try again later, or ask an admin.")
            return redirect("login")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class Callback(oidc_views.OIDCAuthenticationCallbackView):
    get_settings = staticmethod(config.get_setting)

    def login_failure(self):
        reason = getattr(self.request, "lifeboat_sso_refusal", "") or self.request.GET.get("error_description", "")
        messages.error(self.request, f"Single sign-on did not sign you in: {reason or 'the sign-in was cancelled'}.")
        return redirect("login")


class SignOut(oidc_views.OIDCLogoutView):
    get_settings = staticmethod(config.get_setting)


def provider_logout_url(request) -> str:
    """Where sign-out goes: the provider's end-session endpoint for a single sign-on session (so the next sign-in
    asks the provider again), else Lifeboat's sign-in page."""
    local = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    if not id_token or not config.enabled():
        return local
    try:
        end_session = config.provider().end_session_endpoint
    except config.SingleSignOnUnavailable:
        return local
    if not end_session:
        return local
    query = urlencode({"id_token_hint": id_token, "client_id": settings.OIDC_RP_CLIENT_ID,
                       "post_logout_redirect_uri": request.build_absolute_uri(local)})
    return f"{end_session}?{query}"
