"""How a user signs in, as far as rules elsewhere need to know: through Lifeboat's own password, or only through
the identity provider (single sign-on).

Whoever adds single sign-on registers a check (`register_single_sign_on_check`) that recognises its users, e.g.
by their linked OIDC account. Until then, and beside it, a user without a usable password is one: that user can
only have been signed in by someone else (mozilla-django-oidc and allauth create such users), so what Lifeboat
learnt at sign-in ages like the identity provider's word, not like a password the user still knows.
"""

from __future__ import annotations

from collections.abc import Callable

_CHECKS: list[Callable[[object], bool]] = []


def register_single_sign_on_check(check: Callable[[object], bool]) -> None:
    """Add a test that says a user signs in through the identity provider (called from an AppConfig.ready)."""
    if check not in _CHECKS:
        _CHECKS.append(check)


def is_single_sign_on_user(user) -> bool:
    if not user.has_usable_password():
        return True
    return any(check(user) for check in _CHECKS)
