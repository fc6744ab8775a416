"""Name the signed-in user as the actor of audit events recorded during the request."""

from __future__ import annotations

from audit import trail


class AuditActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with trail.acting_as(request):  # the user is read only when an event is recorded
            return self.get_response(request)
