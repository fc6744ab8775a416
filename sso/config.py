"""Single sign-on settings read once: the provider's endpoints (from discovery or given one by one) and the
mapping from the provider's groups to Lifeboat's roles."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from core.roles import ROLES


class SingleSignOnUnavailable(Exception):
    """The provider could not be asked (discovery failed): one line for the sign-in page."""


def enabled() -> bool:
    return bool(settings.LIFEBOAT_OIDC_ENABLED)


def role_map() -> dict[str, str]:
    """{provider group: Lifeboat role} from LIFEBOAT_OIDC_ROLE_MAP ("idp-dbas=DBA,idp-leads=Team lead")."""
    mapping = {}
    for pair in settings.LIFEBOAT_OIDC_ROLE_MAP:
        group, sep, role = pair.partition("=")
        if not sep or role.strip() not in ROLES:
            raise ValueError(f"LIFEBOAT_OIDC_ROLE_MAP: {pair!r} is not 'group=Role' "
                             f"with Role one of {', '.join(ROLES)}")
        mapping[group.strip()] = role.strip()
    return mapping


def roles_from_claims(claims: dict) -> list[str]:
    """The Lifeboat roles a user's claims grant, in Lifeboat's own order (a provider's extra groups ignored)."""
    value = claims.get(settings.LIFEBOAT_OIDC_ROLES_CLAIM) or []
    groups = [value] if isinstance(value, str) else [str(g) for g in value]
    mapped = {role_map()[g] for g in groups if g in role_map()}
    return [role for role in ROLES if role in mapped]


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""


_cache: dict[str, tuple[float, ProviderMetadata]] = {}
CACHE_SECONDS = 3600


def provider() -> ProviderMetadata:
    """The provider's endpoints: explicit settings win, else its discovery document (cached for an hour)."""
    explicit = settings.LIFEBOAT_OIDC_ENDPOINTS
    url = settings.LIFEBOAT_OIDC_DISCOVERY_URL
    if not url:
        return ProviderMetadata(**explicit)
    if not url.rstrip("/").endswith("/.well-known/openid-configuration"):
        url = url.rstrip("/") + "/.well-known/openid-configuration"
    cached = _cache.get(url)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    import requests  # only when single sign-on is used

    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
        response.raise_for_status()
        document = response.json()
        metadata = ProviderMetadata(
            issuer=document["issuer"], authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"], userinfo_endpoint=document["userinfo_endpoint"],
            jwks_uri=document["jwks_uri"], end_session_endpoint=document.get("end_session_endpoint", ""),
        )
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise SingleSignOnUnavailable(f"the identity provider's discovery document at {url} could not be read "
                                      f"({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    # Explicit settings still override single endpoints the document gives.
    metadata = ProviderMetadata(**{**metadata.__dict__, **{k: v for k, v in explicit.items() if v}})
    _cache[url] = (time.monotonic() + CACHE_SECONDS, metadata)
    return metadata


# mozilla-django-oidc reads these setting names; they are answered from the provider's metadata.
ENDPOINT_SETTINGS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def get_setting(attr: str, *default):
    """mozilla-django-oidc's setting lookup, with the endpoints taken from the provider's metadata."""
    if attr in ENDPOINT_SETTINGS:
        return getattr(provider(), ENDPOINT_SETTINGS[attr])
    from mozilla_django_oidc.utils import import_from_settings

    return import_from_settings(attr, *default)
