"""verify_audit_log names the first broken event: one byte changed, an event deleted, two reordered, or the
whole chain rewritten (caught by the outside anchor). Tampering is done as a database owner would: the
append-only triggers are dropped inside the test's own transaction (rolled back afterwards)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from audit import anchor, trail
from audit.chain import verify_chain
from audit.models import AuditEvent
from audit.tasks import check_audit_chain
from tests.helpers import run_command

TABLE = "dashboard_auditevent"


def drop_triggers() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {TABLE}_no_update")
        cursor.execute(f"DROP TRIGGER {TABLE}_no_delete")


def rewrite_history(edited: AuditEvent) -> None:
    """What a database owner can do: drop the triggers, edit one event and recompute every hash after it and the
    chain head, so the chain is consistent again."""
    drop_triggers()
    previous = None
    for event in AuditEvent.objects.order_by("id"):
        if previous is not None:
            event.prev_hash = previous
        if event.pk == edited.pk:
            event.summary = "nothing happened here"
        event.hash = event.compute_hash()
        raw(f"UPDATE {TABLE} SET summary = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [event.summary, event.prev_hash, event.hash, event.pk])
        previous = event.hash
    raw("UPDATE dashboard_auditchainhead SET last_hash = %s", [previous])


def raw(query: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def chain(db, tmp_path, settings) -> list[AuditEvent]:
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = str(tmp_path / "anchor.jsonl")
    start = AuditEvent.objects.count()
    for i in range(6):
        trail.record(f"test.event{i}", summary=f"event number {i}", details={"note": f"payload-{i}", "n": i})
    return list(AuditEvent.objects.order_by("id")[start:])


def flip_one_byte(text: str) -> str:
    """Change exactly one character (a digit or letter near the end), keeping the value well-formed."""
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch.isdigit():
            return text[:i] + str((int(ch) + 1) % 10) + text[i + 1:]
        if ch.isalpha() and ch.lower() not in "abcdef" or ch in "abcde":
            return text[:i] + chr(ord(ch) + 1) + text[i + 1:]
    raise AssertionError(f"nothing to flip in {text!r}")


def test_an_untouched_chain_is_intact(chain):
    code, out, err = run_command("verify_audit_log")
    assert code == 0, err
    assert f"{AuditEvent.objects.count()} events" in out


@pytest.mark.parametrize("column", ["created_at", "actor", "action", "target_id", "summary", "details",
                                    "prev_hash", "hash"])
@pytest.mark.parametrize("position", [0, 3, 5])
def test_one_changed_byte_in_any_event_breaks_the_chain_at_that_event(chain, column, position):
    victim = chain[position]
    drop_triggers()
    (value,) = raw(f"SELECT {column} FROM {TABLE} WHERE id = %s", [victim.pk])[0]
    value = value or "x"  # target_id is empty for these events: give it a byte
    changed = flip_one_byte(str(value))
    assert changed != str(value) and len(changed) == len(str(value))
    raw(f"UPDATE {TABLE} SET {column} = %s WHERE id = %s", [changed, victim.pk])

    code, out, err = run_command("verify_audit_log")

    assert code == 1
    assert f"event #{victim.pk} " in err, err
    report = verify_chain()
    assert report.broken_event_id == victim.pk


def test_a_deleted_event_breaks_the_chain_at_the_next_one(chain):
    drop_triggers()
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [chain[2].pk])

    code, _, err = run_command("verify_audit_log")

    assert code == 1
    assert f"event #{chain[3].pk} " in err and f"does not follow event #{chain[1].pk}" in err, err


def test_deleting_the_newest_event_shows_against_the_chain_head(chain):
    drop_triggers()
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [chain[-1].pk])

    code, _, err = run_command("verify_audit_log")

    assert code == 1
    assert f"ending at #{chain[-1].pk}" in err, err


def test_two_events_swapped_break_the_chain(chain):
    drop_triggers()
    a, b = chain[1].pk, chain[4].pk
    raw(f"UPDATE {TABLE} SET id = -1 WHERE id = %s", [a])
    raw(f"UPDATE {TABLE} SET id = %s WHERE id = %s", [a, b])
    raw(f"UPDATE {TABLE} SET id = %s WHERE id = -1", [b])

    code, _, err = run_command("verify_audit_log")

    assert code == 1
    assert f"event #{a} " in err, err


def test_a_rewritten_chain_is_caught_by_the_outside_anchor(chain, tmp_path):
    assert check_audit_chain().intact
    anchored = anchor.last_anchor()
    assert anchored["count"] == AuditEvent.objects.count() and anchored["last_hash"] == chain[-1].hash

    # A database owner edits an event and recomputes every hash after it: the chain itself is consistent again.
    rewrite_history(edited=chain[2])

    assert verify_chain().intact  # without the anchor, the rewrite is invisible
    code, _, err = run_command("verify_audit_log")
    assert code == 1
    assert "outside anchor" in err and "rewritten" in err and f"event #{chain[-1].pk} " in err, err


def test_the_scheduled_check_records_and_signals_a_break(chain):
    from audit.signals import audit_chain_broken

    heard = []

    def listener(sender, report, **kwargs):
        heard.append(report)

    audit_chain_broken.connect(listener)
    try:
        drop_triggers()
        raw(f"UPDATE {TABLE} SET summary = 'edited' WHERE id = %s", [chain[1].pk])
        report = check_audit_chain()
    finally:
        audit_chain_broken.disconnect(listener)

    assert not report.intact and heard == [report]
    alarm = AuditEvent.objects.filter(action="audit.chain_broken").get()
    assert alarm.action == "audit.chain_broken" and alarm.details["broken_event_id"] == chain[1].pk
    assert not anchor.anchor_path().exists()  # a broken chain is never anchored


def test_the_check_is_scheduled_and_anchors_an_intact_chain(chain):
    from backups.schedules import MAINTENANCE

    assert MAINTENANCE["lifeboat:verify-audit-chain"][0] == "audit.tasks.verify_audit_chain"
    from audit.tasks import verify_audit_chain

    assert verify_audit_chain() is True
    lines = anchor.anchor_path().read_text().splitlines()
    assert json.loads(lines[-1])["last_hash"] == AuditEvent.objects.order_by("-id").first().hash


def test_json_report(chain):
    code, out, _ = run_command("verify_audit_log", "--json")
    assert code == 0 and json.loads(out)["intact"] is True


def test_events_appended_during_the_walk_are_not_a_break(chain, monkeypatch):
    """The hourly check runs while backups write events: an append between the walk and the head is fine."""
    from audit import chain as audit_chain

    real_walk, calls = audit_chain._walk, []

    def walk_then_append(report, events, anchor, key):
        real_walk(report, events, anchor, key)
        if not calls:
            calls.append(trail.record("test.meanwhile", summary="appended while the check ran"))

    monkeypatch.setattr(audit_chain, "_walk", walk_then_append)
    report = audit_chain.verify_chain()
    assert report.intact, report.problem
    assert report.last_event_id == calls[0].pk and report.count == AuditEvent.objects.count()


def test_a_broken_chain_opens_an_alert_and_a_mended_one_resolves_it(chain):
    from alerts.models import Alert, Kind

    drop_triggers()
    original = chain[2].summary
    raw(f"UPDATE {TABLE} SET summary = 'edited' WHERE id = %s", [chain[2].pk])
    check_audit_chain()

    alert = Alert.objects.get(kind=Kind.AUDIT_CHAIN_BROKEN)
    assert alert.resolved_at is None and f"#{chain[2].pk}" in alert.message

    raw(f"UPDATE {TABLE} SET summary = %s WHERE id = %s", [original, chain[2].pk])
    assert check_audit_chain().intact

    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_an_intact_head_is_also_copied_to_every_s3_tier(chain, s3_tier, moto_s3):
    report = check_audit_chain()

    listed = moto_s3.list_objects_v2(Bucket=s3_tier.bucket, Prefix=f"{s3_tier.prefix}audit-chain-heads/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert len(keys) == 1 and keys[0].endswith(f"-{report.count}.json")
    head = json.loads(moto_s3.get_object(Bucket=s3_tier.bucket, Key=keys[0])["Body"].read())
    assert head == anchor.last_anchor()
    assert head["last_hash"] == report.last_hash


def test_a_rewrite_that_also_rewrote_the_local_anchor_fails_against_the_s3_copy(chain, s3_tier, moto_s3, tmp_path):
    """The database's owner is often the OS user who writes the local anchor file: the head kept in S3 is what
    they cannot quietly rewrite too."""
    assert check_audit_chain().intact
    rewrite_history(edited=chain[2])
    # ...and the local anchor file, rewritten to match the forged chain.
    forged = verify_chain()
    assert forged.intact
    anchor.anchor_path().write_text(json.dumps({"count": forged.count, "last_hash": forged.last_hash,
                                                "last_event_id": forged.last_event_id}) + "\n")

    code, _, err = run_command("verify_audit_log")
    assert code == 1, err
    assert f"tier {s3_tier.name}" in err and "rewritten" in err


def test_an_unreachable_bucket_does_not_hide_the_local_check(chain, monkeypatch):
    def down():
        raise OSError("bucket unreachable")

    monkeypatch.setattr(anchor.SITES, "remote_newest", down)
    assert check_audit_chain().intact
    assert anchor.known_anchors()[0]["count"] == AuditEvent.objects.count()
