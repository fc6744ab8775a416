"""Keeps the dashboard closed to a session that has not passed the second factor its user needs."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from core.roles import signs_in_through_provider
from dashboard.two_factor import devices

# Reachable whatever the second factor's state: enrolment itself, signing out, files and machine endpoints.
OPEN_URLS = ("two_factor:manage", "two_factor:sign_in", "logout", "favicon", "healthz", "metrics")


class TwoFactorMiddleware:
    """After django-otp's OTPMiddleware (which tells whether this session was verified by a device):
    - a user with a device whose session was not verified by it (signed in before enrolling elsewhere, or by a
      path without the code step) is signed out and sent to sign in again;
    - a user whose role requires a second factor (LIFEBOAT_REQUIRE_2FA_ROLES) and has none is sent to enrol,
      and can use nothing else until done."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._open: tuple[str, ...] | None = None

    def _is_open(self, path: str) -> bool:
        if self._open is None:
            self._open = tuple(reverse(name) for name in OPEN_URLS)
        return path in self._open or path.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/")
                                                     else "/" + settings.STATIC_URL)

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated or user.is_verified() or self._is_open(request.path):
            return self.get_response(request)
        if signs_in_through_provider(user):
            return self.get_response(request)  # the identity provider owns this user's second factor
        if devices.has_device(user):
            logout(request)
            return _go(request, redirect_to_login(request.get_full_path()).url)
        if devices.required_for(user):
            if not getattr(request, "htmx", False):  # not once per background poll
                messages.info(request, "Your role requires two-factor sign-in: set up an authenticator to continue.")
            return _go(request, reverse("two_factor:manage"))
        return self.get_response(request)


def _go(request, url: str):
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
