"""Each audit event carries an HMAC tag keyed with LIFEBOAT_AUDIT_KEY (outside the database): whoever owns the
table can rewrite events and recompute every public hash, but cannot tag them, and verification says so."""

from __future__ import annotations

from django.db import connection

from audit import trail
from audit.chain import verify_chain
from audit.models import AuditChainHead, AuditEvent

KEY = "k" * 40


def rewrite_everything(summary: str) -> None:
    """What a database owner can do: drop the append-only triggers, rewrite, recompute every hash and the head."""
    from tests.test_audit_chain_detects_tampering import drop_triggers

    drop_triggers()
    if True:
        prev = "0" * 64
        for event in AuditEvent.objects.order_by("id"):
            event.summary, event.prev_hash = summary, prev
            event.hash = event.compute_hash()
            with connection.cursor() as cur:
                cur.execute(f"UPDATE {AuditEvent._meta.db_table} SET summary=%s, prev_hash=%s, hash=%s WHERE id=%s",
                            [event.summary, event.prev_hash, event.hash, event.pk])
            prev = event.hash
        AuditChainHead.objects.filter(pk=1).update(last_hash=prev)


def test_events_are_tagged_and_the_tags_verify(db, settings):
    settings.LIFEBOAT_AUDIT_KEY = KEY
    event = trail.record("test.tagged", summary="a tagged event")
    assert event.mac == AuditEvent.tag(event.hash, KEY) and len(event.mac) == 64
    report = verify_chain()
    assert report.intact and report.warnings == []


def test_a_rewritten_chain_with_recomputed_hashes_fails_on_its_tags(db, settings):
    settings.LIFEBOAT_AUDIT_KEY = KEY
    for i in range(3):
        trail.record("test.tagged", summary=f"event {i}")
    assert verify_chain().intact
    rewrite_everything("nothing happened here")
    assert verify_chain(key="").intact  # the public chain alone cannot tell
    report = verify_chain()
    assert not report.intact and "HMAC tag" in report.problem


def test_an_untagged_event_after_tagged_ones_is_a_break(db, settings):
    settings.LIFEBOAT_AUDIT_KEY = KEY
    trail.record("test.tagged", summary="tagged")
    settings.LIFEBOAT_AUDIT_KEY = ""
    trail.record("test.untagged", summary="written without the key")
    settings.LIFEBOAT_AUDIT_KEY = KEY
    report = verify_chain()
    assert not report.intact and "has no HMAC tag" in report.problem


def test_events_from_before_the_key_was_set_are_accepted_untagged(db, settings):
    trail.record("test.old", summary="before the key")
    settings.LIFEBOAT_AUDIT_KEY = KEY
    trail.record("test.new", summary="after the key")
    assert verify_chain().intact


def test_without_a_key_verification_warns_that_events_are_untagged(db, settings):
    settings.LIFEBOAT_AUDIT_KEY = ""
    trail.record("test.untagged", summary="no key")
    report = verify_chain()
    assert report.intact and any("LIFEBOAT_AUDIT_KEY is not set" in w for w in report.warnings)
