"""`Authorization: Bearer lbt_...` on every call: who, with which token, and whether they may do this now.

No token or an unknown one: 401. Revoked, expired, or its user deactivated: 401 saying which. A token whose scope,
or whose user's role as it is now (core/roles.py), does not allow the call: 403. Over the rate limit: 429 with
Retry-After. Each endpoint names what it needs: `auth=needs(Scope.OPERATE, RUN_OPERATIONS)`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from api import ratelimit, tokens
from api.models import ApiToken, Scope
from api.problems import Problem


class TokenAuth(HttpBearer):
    def __init__(self, scope: str, permission: str) -> None:
        super().__init__()
        self.scope, self.permission = scope, permission

    def authenticate(self, request: HttpRequest, key: str) -> ApiToken:
        now = timezone.now()
        token = tokens.find(key.strip())
        if token is None:
            raise Problem(401, "this is not a Lifeboat API token (unknown or mistyped)", kind="token-invalid")
        why = tokens.refusal(token, now)
        if why:
            raise Problem(401, why, kind="token-invalid")
        wait = ratelimit.over_limit(token.pk)
        if wait is not None:
            raise Problem(429, f"more than {settings.LIFEBOAT_API_RATE_LIMIT} calls a minute with this "
                               f"token; retry in {wait} s", kind="rate-limited", headers={"Retry-After": str(wait)})
        tokens.mark_used(token, now)
        if Scope.rank(token.scope) < Scope.rank(self.scope):
            raise Problem(403, f"this call needs a token of scope {self.scope}; this one is {token.scope}",
                          kind="scope-too-narrow")
        owner = token.owner
        if not owner.has_perm(self.permission):
            raise Problem(403, f"{owner.get_username()} may not do this now (needs permission {self.permission})",
                          kind="role-does-not-allow")
        request.user = owner  # what the rest of Django (and the audit middleware's actor) reads
        return token


_NEEDS: dict[tuple[str, str], TokenAuth] = {}


def needs(scope: str, permission: str) -> TokenAuth:
    """The auth object of an endpoint that needs this scope and this permission (one object per pair)."""
    return _NEEDS.setdefault((scope, permission), TokenAuth(scope, permission))
