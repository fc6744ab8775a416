"""Who a user is at the identity provider: the link that single sign-on finds them by, never their username."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExternalIdentity(models.Model):
    """One user's identity at one OpenID Connect provider (`iss` + `sub`, stable across renames).

    Users are matched by this pair, never by username or e-mail, so an identity provider account named "admin"
    can never take over a local break-glass account of that name.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="external_identity")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    # The provider's groups at the last sign-in, and the Lifeboat roles they mapped to (shown in the admin).
    last_groups = models.JSONField(default=list, blank=True)
    last_roles = models.JSONField(default=list, blank=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique")]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"


def is_single_sign_on_user(user) -> bool:
    """True for users who sign in through the identity provider (their roles come from it)."""
    return user.is_authenticated and ExternalIdentity.objects.filter(user_id=user.pk).exists()
