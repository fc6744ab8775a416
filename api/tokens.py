"""Making, finding and revoking personal API tokens, and the rules a token lives by.

A token is `lbt_` followed by 256 random bits (URL-safe base64): shown once, stored as its SHA-256 only. It can
never do more than its scope allows, nor more than its user may do now (checked on every call, api/auth.py).
Tokens of users who sign in only through the identity provider (core/roles.py signs_in_through_provider) expire within
LIFEBOAT_OIDC_TOKEN_MAX_DAYS of being made, whatever expiry they were given: the provider is asked only at sign-in,
so a token must not outlive that answer for long.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiToken, Scope
from audit import trail
from core.roles import EXPORT_EVIDENCE, RUN_OPERATIONS, signs_in_through_provider

PREFIX = "lbt_"
SHOWN_PREFIX = len(PREFIX) + 8
# What each scope is for, and the permission a user needs for a token of that scope to be worth making.
SCOPE_NEEDS = {
    Scope.ADMIN: ("backups.add_database", "backups.change_database"),
    Scope.OPERATE: (RUN_OPERATIONS, EXPORT_EVIDENCE),
    Scope.READ: ("backups.view_backuprun",),
}


class TokenRefused(ValueError):
    """A token cannot be made as asked: one line saying why."""


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def scopes_for(user) -> list[str]:
    """The scopes this user could use now, lowest first: a token above them would be refused on every call."""
    if not user.is_active:
        return []
    return [scope for scope in (Scope.READ, Scope.OPERATE, Scope.ADMIN)
            if any(user.has_perm(perm) for perm in SCOPE_NEEDS[scope])]


def max_days_for(user) -> int:
    days = settings.LIFEBOAT_API_TOKEN_MAX_DAYS
    if signs_in_through_provider(user):
        days = min(days, settings.LIFEBOAT_OIDC_TOKEN_MAX_DAYS)
    return days


def token_actor(token: ApiToken) -> str:
    """How audit events name a call made with this token: its owner, and which of their tokens."""
    return f"{trail.actor_name(token.owner)} (token: {token.name})"


def issue(owner, name: str, scope: str, days: int, *, now: datetime | None = None) -> tuple[ApiToken, str]:
    """Make a token; returns it and its plaintext, which exists nowhere else and is shown once."""
    now = now or timezone.now()
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenRefused("a token needs a name of 1 to 100 characters (what it is for)")
    if scope not in Scope.values:
        raise TokenRefused(f"unknown scope {scope!r}: read, operate or admin")
    allowed = scopes_for(owner)
    if scope not in allowed:
        raise TokenRefused(f"{owner.get_username()} may not use a token of scope {scope}"
                           + (f" (at most {allowed[-1]})" if allowed else " (no role that the API serves)"))
    limit = max_days_for(owner)
    if not 1 <= days <= limit:
        raise TokenRefused(f"a token of {owner.get_username()} lasts 1 to {limit} days, not {days}")
    plaintext = PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(owner=owner, name=name, scope=scope, prefix=plaintext[:SHOWN_PREFIX],
                                            token_hash=hash_token(plaintext), created_at=now,
                                            expires_at=now + timedelta(days=days))
    except IntegrityError:
        raise TokenRefused(f"{owner.get_username()} already has a token named {name!r}: revoke it or pick "
                           "another name") from None
    trail.record("api_token.created", target=token,
                 summary=f"API token {name!r} ({scope}) made for {owner.get_username()}, expires "
                         f"{token.expires_at:%Y-%m-%d}",
                 details={"owner": owner.get_username(), "name": name, "scope": scope, "prefix": token.prefix,
                          "expires_at": token.expires_at})
    return token, plaintext


def revoke(token: ApiToken, *, now: datetime | None = None) -> bool:
    """Revoke a live token (conditionally: revoking twice records once)."""
    now = now or timezone.now()
    by = trail.current_actor()
    if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=by):
        return False
    token.revoked_at, token.revoked_by = now, by
    trail.record("api_token.revoked", target=token,
                 summary=f"API token {token.name!r} of {token.owner.get_username()} revoked",
                 details={"owner": token.owner.get_username(), "name": token.name, "prefix": token.prefix})
    return True


def find(plaintext: str) -> ApiToken | None:
    if not plaintext.startswith(PREFIX):
        return None
    return ApiToken.objects.select_related("owner").filter(token_hash=hash_token(plaintext)).first()


def effective_expiry(token: ApiToken) -> datetime:
    """The token's expiry, capped for a user who signs in through the identity provider (whenever they became one,
    and whatever the cap was when the token was made)."""
    if signs_in_through_provider(token.owner):
        return min(token.expires_at, token.created_at + timedelta(days=settings.LIFEBOAT_OIDC_TOKEN_MAX_DAYS))
    return token.expires_at


def refusal(token: ApiToken, now: datetime) -> str | None:
    """Why this token opens nothing any more, or None while it still may."""
    if token.revoked_at is not None:
        return f"this token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC"
    expiry = effective_expiry(token)
    if expiry <= now:
        return f"this token expired on {expiry:%Y-%m-%d %H:%M} UTC"
    if not token.owner.is_active:
        return "this token's user is deactivated"
    return None


def mark_used(token: ApiToken, now: datetime) -> None:
    """Record the last use, at most once a minute: a busy script need not write a row per call."""
    if token.last_used_at is None or now - token.last_used_at >= timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
