"""Personal API tokens: who holds one, what it may do, until when. Only the token's SHA-256 is kept."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Scope(models.TextChoices):
    """What a token may be used for, at most; its user's role at the time of each call bounds it further."""

    READ = "read", "Read"
    OPERATE = "operate", "Operate (back up, verify, restore, export evidence)"
    ADMIN = "admin", "Admin (also create and change databases)"

    @classmethod
    def rank(cls, value: str) -> int:
        return [cls.READ, cls.OPERATE, cls.ADMIN].index(cls(value))


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now: datetime) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. ci-pre-migration-backup.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    # The token's first characters, to recognise it in a list; never enough to use it.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField("SHA-256 of the token", max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A name says which token an audit event was made with: one live token per name and owner.
            models.UniqueConstraint(fields=["owner", "name"], condition=Q(revoked_at__isnull=True),
                                    name="one_live_token_name_per_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner}, {self.scope})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
