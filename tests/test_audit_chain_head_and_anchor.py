"""The chain checked against its head and its outside anchor: the head must match in count *and* hash, the
anchored position must still carry the anchored hash, a check right after anchoring is intact, and the anchor
file is read from its end however long it grows."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from audit import anchor, trail
from audit.chain import ChainReport, verify_chain
from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from audit.tasks import check_audit_chain


def execute(query: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query, params)


def empty_chain() -> None:
    """No events at all (migrate records some): deleted as a database owner would, inside the test's transaction."""
    execute("DROP TRIGGER dashboard_auditevent_no_delete")
    execute("DELETE FROM dashboard_auditevent")
    execute("UPDATE dashboard_auditchainhead SET count = 0, last_hash = %s, last_event_id = NULL", [GENESIS_HASH])


def report_count() -> int:
    return AuditEvent.objects.count()


@pytest.fixture
def events(db, tmp_path, settings) -> list[AuditEvent]:
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = str(tmp_path / "anchor.jsonl")
    start = AuditEvent.objects.count()
    for i in range(4):
        trail.record(f"test.head{i}", summary=f"event {i}", details={"i": i})
    return list(AuditEvent.objects.order_by("id")[start:])


def test_a_check_right_after_anchoring_is_intact(events):
    first = check_audit_chain()
    assert first.intact and anchor.last_anchor()["count"] == first.count
    second = check_audit_chain()
    assert second.intact, second.problem
    assert second.count == first.count and second.last_hash == first.last_hash == events[-1].hash


def test_a_head_with_the_right_count_and_a_wrong_hash_is_a_break(events):
    execute("UPDATE dashboard_auditchainhead SET last_hash = %s", ["f" * 64])
    report = verify_chain()
    assert not report.intact
    assert report.problem == (
        f"the chain ends at event #{events[-1].pk} after {report.count} events, but the chain head records "
        f"{report.count} events ending at #{events[-1].pk}: events were deleted from the end, or the head was altered")


def test_a_head_that_counts_fewer_events_than_the_chain_is_a_break(events):
    execute("UPDATE dashboard_auditchainhead SET count = count - 1")
    assert "the chain head records" in verify_chain().problem


def test_a_head_ahead_of_the_chain_with_nothing_after_it_is_a_break(events):
    execute("UPDATE dashboard_auditchainhead SET count = count + 1")
    report = verify_chain()
    assert "the chain head records" in report.problem and report.last_event_id == events[-1].pk


def test_an_anchor_further_than_the_chain_means_events_were_deleted(events):
    report = verify_chain({"count": report_count() + 2, "last_hash": "a" * 64, "written_at": "then"})
    assert report.problem == (f"the chain has {report.count} events but the outside anchor written at then "
                              f"recorded {report.count + 2}: events were deleted")
    assert report.broken_event_id is None


def test_an_anchor_at_an_earlier_position_with_its_hash_is_intact_and_with_another_is_a_rewrite(events):
    position = report_count() - 2
    assert verify_chain({"count": position, "last_hash": events[-3].hash}).intact
    report = verify_chain({"count": position, "last_hash": "b" * 64})
    assert report.broken_event_id == events[-3].pk
    assert f"is event number {position}, but the outside anchor written at ? recorded hash bbbbbbbbbbbbbbbb" in (
        report.problem)


def test_an_edited_first_event_breaks_the_chain_at_its_start(db, settings, tmp_path):
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = str(tmp_path / "anchor.jsonl")
    empty_chain()
    first = trail.record("test.first", summary="first")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER dashboard_auditevent_no_update")
        cursor.execute("UPDATE dashboard_auditevent SET prev_hash = %s WHERE id = %s", ["1" * 64, first.pk])
    report = verify_chain()
    assert report.broken_event_id == first.pk and "does not follow the start of the chain" in report.problem


def test_an_empty_chain_is_intact_at_the_genesis_hash(db):
    empty_chain()
    AuditChainHead.objects.all().delete()
    report = verify_chain()
    assert report.intact and (report.count, report.last_hash, report.last_event_id) == (0, GENESIS_HASH, None)


def test_an_event_appended_while_an_empty_chain_is_checked_is_not_a_break(db, monkeypatch):
    from audit import chain

    empty_chain()
    real_walk, appended = chain._walk, []

    def walk_then_append(report, events, *rest):
        real_walk(report, events, *rest)
        if not appended:
            appended.append(trail.record("test.meanwhile", summary="the first event, written during the check"))

    monkeypatch.setattr(chain, "_walk", walk_then_append)
    report = chain.verify_chain()
    assert report.intact, report.problem
    assert (report.count, report.last_event_id) == (1, appended[0].pk)


def test_the_report_says_intact_or_broken_in_one_line_and_as_json():
    intact = ChainReport(count=3, last_hash="c" * 64, last_event_id=9)
    assert intact.intact and intact.line() == f"audit chain intact: 3 events, head {'c' * 64}"
    broken = ChainReport(count=2, broken_event_id=4, problem="event #4 was edited", warnings=["w"])
    assert not broken.intact and broken.line() == "audit chain BROKEN: event #4 was edited"
    assert broken.as_dict() == {"intact": False, "count": 2, "last_hash": GENESIS_HASH, "last_event_id": None,
                                "broken_event_id": 4, "problem": "event #4 was edited", "warnings": ["w"], "gaps": []}
    assert ChainReport().as_dict()["intact"] is True and ChainReport().warnings == []


# --- the anchor file ------------------------------------------------------------------------------------------------

def test_the_last_anchor_is_read_from_the_end_of_a_long_file(tmp_path):
    path = tmp_path / "heads.jsonl"
    assert anchor.last_anchor(path) is None
    path.write_text("")
    assert anchor.last_anchor(path) is None
    path.write_text("\n\n")
    assert anchor.last_anchor(path) is None
    lines = [json.dumps({"count": n, "last_hash": f"{n:064x}", "pad": "x" * (n % 97)}) for n in range(1, 400)]
    path.write_text("\n".join(lines) + "\n\n")
    assert anchor.last_anchor(path)["count"] == 399
    path.write_text(json.dumps({"count": 1, "pad": "y" * 9000}) + "\n")  # one line longer than a read block
    assert anchor.last_anchor(path)["count"] == 1
    path.write_text(json.dumps({"count": 1}) + "\n" + json.dumps({"count": 2, "pad": "z" * 5000}))
    assert anchor.last_anchor(path)["count"] == 2


def test_a_line_exactly_one_byte_longer_than_a_read_block_is_read_whole(tmp_path):
    path = tmp_path / "heads.jsonl"
    line = json.dumps({"count": 7, "pad": ""})
    line = line.replace('""', '"' + "p" * (4096 - len(line)) + '"')
    path.write_text(line + "\n")
    assert path.stat().st_size == 4097
    assert anchor.last_anchor(path)["count"] == 7


def test_only_an_intact_chain_is_anchored_and_each_head_is_appended(tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr(anchor.SITES, "remote_put", lambda path, name, metadata: sent.append(
        (path.read_text(), name, metadata)) or [f"s3://b/{name}"])
    path = tmp_path / "new" / "deeper" / "heads.jsonl"
    with pytest.raises(ValueError, match="refusing to anchor a broken chain"):
        anchor.write_anchor(ChainReport(problem="broken"), path)
    assert not path.exists() and sent == []
    assert anchor.write_anchor(ChainReport(count=1, last_hash="1" * 64, last_event_id=5), path) == path
    anchor.write_anchor(ChainReport(count=2, last_hash="2" * 64, last_event_id=6), path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith('{"count": 1, "last_event_id": 5, "last_hash": "' + "1" * 64 + '", "written_at": "')
    first, second = (json.loads(line) for line in lines)
    assert anchor.last_anchor(path) == second and set(second) == {"count", "last_hash", "last_event_id", "written_at"}
    # every head also goes off-host, one object per head, named by time and count
    assert [text for text, _, _ in sent] == [lines[0] + "\n", lines[1] + "\n"]
    assert [metadata for _, _, metadata in sent] == [{"lifeboat-audit-count": "1"}, {"lifeboat-audit-count": "2"}]
    assert all(name.startswith("audit-chain-heads/") and name.endswith(f"-{n}.json")
               for n, (_, name, _) in enumerate(sent, 1))
    report = ChainReport(count=3, last_hash="3" * 64)
    assert anchor.copy_to_remote_tiers("{}", report) == [f"s3://b/{sent[-1][1]}"]


def test_the_anchor_file_lives_where_configured_else_in_the_first_local_tier_else_the_backup_root(
        settings, tmp_path, monkeypatch):
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = str(tmp_path / "chosen.jsonl")
    assert anchor.anchor_path() == tmp_path / "chosen.jsonl"
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = ""
    settings.LIFEBOAT_BACKUP_ROOT = tmp_path / "root"
    monkeypatch.setattr(anchor.SITES, "local_dir", lambda: None)
    assert anchor.anchor_path() == tmp_path / "root" / "lifeboat-audit-chain-head.jsonl"
    monkeypatch.setattr(anchor.SITES, "local_dir", lambda: tmp_path / "tier")
    assert anchor.anchor_path() == tmp_path / "tier" / "lifeboat-audit-chain-head.jsonl"
