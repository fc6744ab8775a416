"""Misconfigured single sign-on is found at start-up (`manage.py check`), not at someone's first sign-in.

Registered by SsoConfig.ready() through a thin function that imports this module when the checks run.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error

from sso import config


def single_sign_on_settings(app_configs=None, **kwargs):
    errors = []
    try:
        mapping = config.role_map()
    except ValueError as exc:
        errors.append(Error(str(exc), id="sso.E001"))
        mapping = {"ok": "ok"}
    if config.enabled() and not mapping:
        errors.append(Error("single sign-on is configured but LIFEBOAT_OIDC_ROLE_MAP maps no provider group to a "
                            "Lifeboat role: every sign-in would be refused", id="sso.E002"))
    if settings.LIFEBOAT_LOCAL_SIGN_IN == "break-glass" and not settings.LIFEBOAT_BREAK_GLASS_USERS:
        errors.append(Error("LIFEBOAT_LOCAL_SIGN_IN=break-glass names no LIFEBOAT_BREAK_GLASS_USERS: nobody could "
                            "sign in while the identity provider is down", id="sso.E003"))
    return errors
