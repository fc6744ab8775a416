"""Sign-in backends: OpenID Connect through the team's identity provider, and local passwords for break-glass.

Roles come from the provider's groups claim at every sign-in (config.role_map): a user removed from the provider's
group loses the Lifeboat role the next time they sign in, and a user the provider grants no role is refused.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from audit import trail
from core.roles import ROLES
from sso import config
from sso.models import ExternalIdentity


class LocalAccountBackend(ModelBackend):
    """Passwords, for everyone (LIFEBOAT_LOCAL_SIGN_IN=all) or only for the break-glass accounts named in
    LIFEBOAT_BREAK_GLASS_USERS (=break-glass), once single sign-on carries everyday access."""

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return local_sign_in_allowed(user.get_username())


def local_sign_in_allowed(username: str) -> bool:
    return settings.LIFEBOAT_LOCAL_SIGN_IN == "all" or username in settings.LIFEBOAT_BREAK_GLASS_USERS


class Refused(Exception):
    """Single sign-on reached the provider but Lifeboat will not let this identity in (reason for the user).

    Not a SuspiciousOperation: mozilla-django-oidc would swallow that without a word for the user."""


class SingleSignOnBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(config.get_setting)

    def __init__(self, *args, **kwargs):
        # Django builds every backend for every sign-in, password ones included: the provider is asked only
        # when a single sign-on callback arrives, so an unreachable provider never blocks break-glass access.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or "code" not in request.GET or "state" not in request.GET or "nonce" not in kwargs:
            return None
        try:
            metadata = config.provider()
        except config.SingleSignOnUnavailable as exc:
            self._refuse(request, str(exc), username="")
            return None
        self.issuer = metadata.issuer
        self.OIDC_OP_TOKEN_ENDPOINT = metadata.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = metadata.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = metadata.jwks_uri
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        try:
            return super().authenticate(request, **kwargs)
        except Refused as exc:
            if getattr(self, "_roles_withdrawn", False):
                self._withdraw_roles(request.GET.get("state", ""))
            self._refuse(request, str(exc), username=getattr(self, "_username", ""))
            return None
        except Exception as exc:  # the provider answered badly (token exchange, signature): a refusal, said why
            self._refuse(request, f"the identity provider's answer was not accepted ({exc.__class__.__name__})",
                         username="")
            return None

    def get_or_create_user(self, access_token, id_token, payload):
        self._id_token_subject = payload.get("sub")
        with transaction.atomic():
            return super().get_or_create_user(access_token, id_token, payload)

    def verify_claims(self, claims) -> bool:
        self._username = str(claims.get(settings.LIFEBOAT_OIDC_USERNAME_CLAIM) or claims.get("sub") or "")[:150]
        if not claims.get("sub") or claims.get("sub") != self._id_token_subject:
            raise Refused("the provider's user information does not match its ID token")
        if not config.roles_from_claims(claims):
            self._roles_withdrawn, self._subject = True, claims["sub"]
            raise Refused("the identity provider grants this account no Lifeboat role "
                          f"(claim {settings.LIFEBOAT_OIDC_ROLES_CLAIM!r})")
        return True

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(external_identity__issuer=self.issuer,
                                             external_identity__subject=claims["sub"])

    def create_user(self, claims):
        username = self._username
        if self.UserModel.objects.filter(username=username).exists():
            # Never link to an existing local account by name: that would hand it to whoever the provider calls so.
            raise Refused(f"the name {username!r} already belongs to a local Lifeboat account")
        user = self.UserModel.objects.create_user(username, email=claims.get("email", ""))  # unusable password
        ExternalIdentity.objects.create(user=user, issuer=self.issuer, subject=claims["sub"])
        trail.record("auth.user_created_by_sso", actor=user, target=user,
                     summary=f"{username} created at first single sign-on", details={"issuer": self.issuer})
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        if not user.is_active:
            raise Refused(f"the Lifeboat account {user.get_username()!r} is deactivated")
        roles = config.roles_from_claims(claims)
        wanted = set(Group.objects.filter(name__in=roles))
        current = set(user.groups.filter(name__in=ROLES))
        # Membership changes are audited by the configuration audit (m2m_changed); they are the provider's doing.
        with trail.acting_as(f"identity provider for {user.get_username()}"):
            if current - wanted:
                user.groups.remove(*(current - wanted))
            if wanted - current:
                user.groups.add(*(wanted - current))
        user.email = claims.get("email", user.email)
        user.first_name = str(claims.get("given_name", user.first_name))[:150]
        user.last_name = str(claims.get("family_name", user.last_name))[:150]
        user.save(update_fields=["email", "first_name", "last_name"])
        value = claims.get(settings.LIFEBOAT_OIDC_ROLES_CLAIM) or []
        ExternalIdentity.objects.filter(user=user).update(
            last_groups=[value] if isinstance(value, str) else [str(g) for g in value], last_roles=roles,
            last_sign_in=timezone.now())
        return user

    def _withdraw_roles(self, state: str) -> None:
        """The provider no longer grants a role: a linked user loses every Lifeboat role (their API tokens stop
        working too), outside the refused sign-in's rolled-back transaction."""
        user = self.UserModel.objects.filter(external_identity__issuer=self.issuer,
                                             external_identity__subject=self._subject).first()
        if user is None:
            return
        with trail.acting_as(f"identity provider for {user.get_username()}"):
            user.groups.remove(*user.groups.filter(name__in=ROLES))
        ExternalIdentity.objects.filter(user=user).update(last_roles=[], last_sign_in=timezone.now())

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    @staticmethod
    def _refuse(request, reason: str, username: str) -> None:
        request.lifeboat_sso_refusal = reason
        trail.record("auth.sign_in_failed", actor="anonymous",
                     summary=f"single sign-on refused{f' for {username!r}' if username else ''}: {reason}",
                     details={"method": "single sign-on", "username": username, "reason": reason,
                              "ip": request.META.get("REMOTE_ADDR", "")})
