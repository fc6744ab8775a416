"""Check the audit chain end to end, in constant memory, and name the first event that breaks it.

A break is one of: an event whose stored hash is not the hash of its content (edited), an event whose
prev_hash is not the hash of the event before it (an event deleted, inserted or reordered before it), or a
chain shorter or different from what the chain head (and the last outside anchor) recorded (events deleted
at the end, or the whole chain rewritten).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from django.conf import settings

from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent

CHUNK = 2000


@dataclass
class ChainReport:
    count: int = 0
    last_hash: str = GENESIS_HASH
    last_event_id: int | None = None
    broken_event_id: int | None = None
    problem: str = ""
    warnings: list[str] = field(default_factory=list)
    tagged_from: int | None = None  # the first event carrying an HMAC tag

    @property
    def intact(self) -> bool:
        return not self.problem

    def line(self) -> str:
        if self.intact:
            return f"audit chain intact: {self.count} events, head {self.last_hash}"
        return f"audit chain BROKEN: {self.problem}"

    def as_dict(self) -> dict:
        return {"intact": self.intact, "count": self.count, "last_hash": self.last_hash,
                "last_event_id": self.last_event_id, "broken_event_id": self.broken_event_id,
                "problem": self.problem, "warnings": self.warnings}


def _describe(event: AuditEvent) -> str:
    return f"event #{event.pk} ({event.created_at:%Y-%m-%d %H:%M:%S} {event.action} by {event.actor})"


def _anchors(anchor: dict | list[dict] | None) -> list[dict]:
    """One head, or every head known outside (the local file and each off-host copy), as a list."""
    if not anchor:
        return []
    return [a for a in (anchor if isinstance(anchor, list) else [anchor]) if a]


def _walk(report: ChainReport, events, anchor: dict | list[dict] | None, key: str) -> None:
    """Check events in id order after what the report has seen; set report.problem at the first break."""
    by_count = {int(a["count"]): a for a in _anchors(anchor)}
    for event in events.iterator(chunk_size=CHUNK):
        if event.prev_hash != report.last_hash:
            after = "the start of the chain" if report.last_event_id is None else f"event #{report.last_event_id}"
            report.broken_event_id = event.pk
            report.problem = (f"{_describe(event)} does not follow {after}: its prev_hash is "
                              f"{event.prev_hash[:16]}…, expected {report.last_hash[:16]}… "
                              "(an event was deleted, inserted or reordered just before it)")
            return
        if event.compute_hash() != event.hash:
            report.broken_event_id = event.pk
            report.problem = f"{_describe(event)} was edited: its content no longer matches its hash"
            return
        if key and _tag_problem(report, event, key):
            return
        report.count += 1
        report.last_hash, report.last_event_id = event.hash, event.pk
        pinned = by_count.get(report.count)
        if pinned and event.hash != pinned["last_hash"]:
            report.broken_event_id = event.pk
            report.problem = (f"{_describe(event)} is event number {report.count}, but the outside anchor "
                              f"{_where(pinned)}written at {pinned.get('written_at', '?')} recorded hash "
                              f"{pinned['last_hash'][:16]}… there: the chain was rewritten")
            return


def _tag_problem(report: ChainReport, event: AuditEvent, key: str) -> bool:
    """Events before the key was set carry no tag; from the first tagged event on, every tag must verify."""
    if event.mac:
        if not hmac.compare_digest(event.mac, AuditEvent.tag(event.hash, key)):
            report.broken_event_id = event.pk
            report.problem = (f"{_describe(event)} carries an HMAC tag that LIFEBOAT_AUDIT_KEY does not produce: "
                              "the event was rewritten by someone without the key (or the key changed)")
            return True
        report.tagged_from = report.tagged_from or event.pk
    elif report.tagged_from:
        report.broken_event_id = event.pk
        report.problem = (f"{_describe(event)} has no HMAC tag although event #{report.tagged_from} and later "
                          "ones are tagged: it was written or rewritten without the key")
        return True
    return False


def _where(anchor: dict) -> str:
    return f"in {anchor['where']} " if anchor.get("where") else ""


def verify_chain(anchor: dict | list[dict] | None = None, key: str | None = None) -> ChainReport:
    """Walk every event in id order; stop at the first break. `anchor`: a head recorded outside earlier
    ({"count", "last_hash"}), or several (audit.anchor.known_anchors()): the event at each one's position must
    still carry that hash, and the chain must be at least as long as the longest.

    Events appended while the walk runs are fine: when the head (read after the walk) is ahead, the walk
    continues from where it stopped. Only a head the chain cannot reach is a break."""
    key = settings.LIFEBOAT_AUDIT_KEY if key is None else key
    report = ChainReport()
    events = AuditEvent.objects.order_by("id")
    _walk(report, events, anchor, key)
    for _ in range(5):
        if report.problem:
            return report
        head = AuditChainHead.objects.filter(pk=1).first()
        if head is None or (head.count == report.count and head.last_hash == report.last_hash):
            break
        if head.count > report.count and events.filter(id__gt=report.last_event_id or 0).exists():
            _walk(report, events.filter(id__gt=report.last_event_id or 0), anchor, key)  # appended meanwhile
            continue
        report.problem = (f"the chain ends at event #{report.last_event_id} after {report.count} events, but the "
                          f"chain head records {head.count} events ending at #{head.last_event_id}: "
                          "events were deleted from the end, or the head was altered")
        return report
    longest = max(_anchors(anchor), key=lambda a: int(a["count"]), default=None)
    if longest and report.count < int(longest["count"]):
        report.problem = (f"the chain has {report.count} events but the outside anchor {_where(longest)}written at "
                          f"{longest.get('written_at', '?')} recorded {longest['count']}: events were deleted")
    if not key:
        report.warnings.append("events carry no HMAC tag (LIFEBOAT_AUDIT_KEY is not set): the chain proves order "
                               "and content, but whoever owns the database could rewrite it with the anchors")
    return report
