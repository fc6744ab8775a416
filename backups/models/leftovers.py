"""What a failed store left behind and could not remove at the time: swept later, never forgotten."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class LeftoverQuerySet(models.QuerySet):
    def pending(self) -> LeftoverQuerySet:
        return self.filter(removed_at__isnull=True)


class Leftover(models.Model):
    """An object (or an unfinished multipart upload) in a tier that cleaning up after a failure could not remove.

    Cleaning a half-stored tier runs while that tier is failing, so it may fail too: rather than turning a good run
    into a failed one, the leftover is written here and the `lifeboat:sweep-leftovers` task retries it.
    """

    class Kind(models.TextChoices):
        OBJECT = "object", "Stored object"
        UPLOAD = "upload", "Unfinished multipart upload"

    tier = models.ForeignKey("Tier", on_delete=models.CASCADE, related_name="leftovers")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OBJECT)
    location = models.CharField(max_length=1000, help_text="Object key or path (for an upload: its key).")
    version_id = models.CharField(max_length=200, blank=True)
    run = models.ForeignKey("BackupRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=1)
    last_error = models.TextField(blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = LeftoverQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # The sweep: leftovers not removed yet, oldest first.
            models.Index(fields=["removed_at", "created_at"], name="leftover_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display().lower()} {self.location} in {self.tier}"
