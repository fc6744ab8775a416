"""Helpers for the API tests: tokens made the way users make them, and a small world to call the endpoints on."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from api import tokens

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # personas' passwords are never the point here


def bearer(plaintext: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


def token_for(user, scope: str, *, days: int = 30, name: str | None = None) -> str:
    """A token made through tokens.issue (so it is refused there too when the user may not have it)."""
    _, plaintext = tokens.issue(user, name or f"{scope}-{user.username}", scope, days)
    return plaintext


def raw_token(user, scope: str) -> str:
    """A token stored directly, whatever the user's role: as if made when the role was wider."""
    import secrets

    from api.models import ApiToken

    plaintext = tokens.PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(owner=user, name=f"raw-{scope}", scope=scope, prefix=plaintext[:12],
                            token_hash=tokens.hash_token(plaintext), expires_at=timezone.now() + timedelta(days=1))
    return plaintext


def expire(plaintext: str) -> None:
    from api.models import ApiToken

    ApiToken.objects.filter(token_hash=tokens.hash_token(plaintext)).update(
        expires_at=timezone.now() - timedelta(seconds=1))


def revoke(plaintext: str) -> None:
    from api.models import ApiToken

    tokens.revoke(ApiToken.objects.select_related("owner").get(token_hash=tokens.hash_token(plaintext)))


def drop_roles(user) -> None:
    user.groups.set([])


def give_role(user, role: str) -> None:
    user.groups.add(Group.objects.get(name=role))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body
