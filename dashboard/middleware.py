"""Sessions that end when a person stops using them."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django_htmx.http import HttpResponseClientRedirect

# Requests made by the page itself on a timer (hx-trigger="every ...") carry this header (hx-headers on the
# polling elements): they neither count as activity nor keep an idle session alive.
POLL_HEADER = "X-Lifeboat-Poll"
LAST_ACTIVITY = "lifeboat_last_activity"
# Write the time at most this often: one session save a minute, not one per request.
WRITE_EVERY_SECONDS = 60


class IdleSessionMiddleware:
    """Signs a person out after LIFEBOAT_SESSION_IDLE_SECONDS without a request of theirs (SESSION_COOKIE_AGE
    caps the whole session)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_ACTIVITY, now)
            if now - last > settings.LIFEBOAT_SESSION_IDLE_SECONDS:
                logout(request)
                login = redirect_to_login(request.get_full_path())
                return HttpResponseClientRedirect(login.url) if getattr(request, "htmx", False) else login
            if not request.headers.get(POLL_HEADER) and (LAST_ACTIVITY not in request.session
                                                         or now - last >= WRITE_EVERY_SECONDS):
                request.session[LAST_ACTIVITY] = now
        return self.get_response(request)


def start_the_idle_clock(sender, request, user, **kwargs) -> None:
    """Signing in is activity: the first page after it needs no extra session write (user_logged_in)."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_ACTIVITY] = time.time()
