"""Sign-ins, failed sign-ins and sign-outs become audit events (SOC 2 CC6: who accessed the system, when)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit import trail


def _client(request) -> dict[str, str]:
    if request is None:
        return {}
    return {"ip": request.META.get("REMOTE_ADDR", ""), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


@receiver(user_logged_in, dispatch_uid="lifeboat-audit-signed-in")
def _signed_in(sender, request, user, **kwargs) -> None:
    method = "single sign-on" if getattr(user, "backend", "").endswith("SingleSignOnBackend") else "password"
    trail.record("auth.signed_in", actor=user, target=user, summary=f"{user.get_username()} signed in",
                 details={"method": method, **_client(request)})


@receiver(user_login_failed, dispatch_uid="lifeboat-audit-sign-in-failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    if getattr(request, "axes_locked_out", False):
        return  # refused by the lockout, which was recorded once when it began (below)
    if getattr(request, "lifeboat_sso_refusal", ""):
        return  # a single sign-on refusal, recorded with its reason by sso/backends.py
    # Django has already masked the password in `credentials`; keep only the name that was tried.
    username = str(credentials.get("username", ""))[:150]
    trail.record("auth.sign_in_failed", actor="anonymous", summary=f"failed sign-in as {username!r}",
                 details={"username": username, **_client(request)})


@receiver(user_locked_out, dispatch_uid="lifeboat-audit-locked-out")
def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """django-axes locked a user out from an address: one event per lockout, however many attempts follow.

    axes sends this signal for every refused attempt; only the attempt that reached the limit is recorded.
    """
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.filter(username=username, ip_address=ip_address).first()
    if attempt is not None and attempt.failures_since_start > settings.AXES_FAILURE_LIMIT:
        return
    username = str(username or "")[:150]
    trail.record("auth.locked_out", actor="anonymous",
                 summary=f"sign-in locked for {username!r} from {ip_address} after repeated failures",
                 details={"username": username, "ip": ip_address, **_client(request)})


@receiver(user_logged_out, dispatch_uid="lifeboat-audit-signed-out")
def _signed_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    trail.record("auth.signed_out", actor=user, target=user, summary=f"{user.get_username()} signed out",
                 details=_client(request))
