"""Sign-out of a single sign-on session is a form POST that ends at the identity provider (RP-initiated logout).
A Content-Security-Policy of `form-action 'self'` would stop that redirect, so the pages of a single sign-on
session allow form submissions to lead to the provider's end-session origin, and to nowhere else."""

from __future__ import annotations

from urllib.parse import urlsplit

from sso import config


class ProviderSignOutFormAction:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not config.enabled() or not session.get("oidc_id_token"):
            return response
        try:
            end_session = config.provider().end_session_endpoint
        except config.SingleSignOnUnavailable:
            return response  # sign-out then ends only Lifeboat's session, as it would anyway
        if end_session:
            parts = urlsplit(end_session)
            update = dict(getattr(response, "_csp_update", None) or {})
            update["form-action"] = [*update.get("form-action", []), f"{parts.scheme}://{parts.netloc}"]
            response._csp_update = update
        return response
