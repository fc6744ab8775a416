"""The audit trail: append-only, hash-chained events (each stores the previous event's hash)."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

GENESIS_HASH = "0" * 64
# Written only by the recovery command (audit/rebuild.py): the events it stands for were lost with the database.
RECOVERY_GAP = "audit.recovery_gap"


class AuditChainHead(models.Model):
    """One row that writers lock (select_for_update) so concurrent appends cannot fork the chain."""

    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "dashboard_auditchainhead"  # the table predates the audit app (moved, never copied)

    def __str__(self) -> str:
        return f"audit chain head: {self.count} events, last {self.last_hash[:12]}"


class AuditEvent(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="Username, or 'system' for scheduled work.")
    action = models.CharField(max_length=60, db_index=True, help_text="e.g. backup.succeeded")
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=60, blank=True)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # HMAC-SHA256 of `hash` keyed with LIFEBOAT_AUDIT_KEY, a secret kept outside the database: whoever owns the
    # table can recompute the public hashes of a rewritten chain, but not these tags. Empty when no key is set.
    mac = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["id"]
        db_table = "dashboard_auditevent"  # the table predates the audit app (moved, never copied)

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only: an event is never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only: an event is never deleted")

    def canonical(self) -> bytes:
        """The exact bytes hashed: every field but the hash, as sorted, compact JSON."""
        body = {
            "created_at": self.created_at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "summary": self.summary,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder,
                          ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @staticmethod
    def tag(event_hash: str, key: str) -> str:
        return hmac.new(key.encode(), event_hash.encode(), hashlib.sha256).hexdigest()


class AuditSegment(models.Model):
    """A closed run of events shipped off-host as one JSON-lines object (audit/segments.py).

    The row is written before any upload, so its bounds are fixed: a crash after an upload re-puts the very same
    bytes under the very same name, never a second, overlapping segment. Which tiers hold it is read from the tiers
    themselves (the listing is the truth); `locations` only records where it was put."""

    name = models.CharField(max_length=200, unique=True)
    first_seq = models.BigIntegerField(help_text="chain position of the first event (1-based)")
    last_seq = models.BigIntegerField(unique=True)
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64, help_text="the hash the first event follows")
    last_hash = models.CharField(max_length=64)
    events = models.IntegerField()
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the whole object")
    closed_at = models.DateTimeField(default=timezone.now)
    locations = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["first_seq"]

    def __str__(self) -> str:
        return self.name
