"""Sign-ins, failed sign-ins and sign-outs become audit events (SOC 2 CC6: who accessed the system, when)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit import trail


def _client(request) -> dict[str, str]:
    if request is None:
        return {}
    return {"ip": request.META.get("REMOTE_ADDR", ""), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


@receiver(user_logged_in, dispatch_uid="lifeboat-audit-signed-in")
def _signed_in(sender, request, user, **kwargs) -> None:
    trail.record("auth.signed_in", actor=user, target=user, summary=f"{user.get_username()} signed in",
                 details=_client(request))


@receiver(user_login_failed, dispatch_uid="lifeboat-audit-sign-in-failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`; keep only the name that was tried.
    username = str(credentials.get("username", ""))[:150]
    trail.record("auth.sign_in_failed", actor="anonymous", summary=f"failed sign-in as {username!r}",
                 details={"username": username, **_client(request)})


@receiver(user_logged_out, dispatch_uid="lifeboat-audit-signed-out")
def _signed_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    trail.record("auth.signed_out", actor=user, target=user, summary=f"{user.get_username()} signed out",
                 details=_client(request))
