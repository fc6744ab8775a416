"""Check the audit chain end to end, in constant memory, and name the first event that breaks it.

A break is one of: an event whose stored hash is not the hash of its content (edited), an event whose
prev_hash is not the hash of the event before it (an event deleted, inserted or reordered before it), or a
chain shorter or different from what the chain head (and the last outside anchor) recorded (events deleted
at the end, or the whole chain rewritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.models import GENESIS_HASH, AuditChainHead, AuditEvent

CHUNK = 2000


@dataclass
class ChainReport:
    count: int = 0
    last_hash: str = GENESIS_HASH
    last_event_id: int | None = None
    broken_event_id: int | None = None
    problem: str = ""
    warnings: list[str] = field(default_factory=list)

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


def verify_chain(anchor: dict | None = None) -> ChainReport:
    """Walk every event in id order; stop at the first break. `anchor`: a head recorded outside earlier
    ({"count", "last_hash"}): the event at that position must still carry that hash."""
    report = ChainReport()
    previous = GENESIS_HASH
    anchor_count = int(anchor["count"]) if anchor else 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=CHUNK):
        if event.prev_hash != previous:
            after = "the start of the chain" if report.last_event_id is None else f"event #{report.last_event_id}"
            report.broken_event_id = event.pk
            report.problem = (f"{_describe(event)} does not follow {after}: its prev_hash is "
                              f"{event.prev_hash[:16]}…, expected {previous[:16]}… "
                              "(an event was deleted, inserted or reordered just before it)")
            return report
        if event.compute_hash() != event.hash:
            report.broken_event_id = event.pk
            report.problem = f"{_describe(event)} was edited: its content no longer matches its hash"
            return report
        previous = event.hash
        report.count += 1
        report.last_hash, report.last_event_id = event.hash, event.pk
        if anchor and report.count == anchor_count and event.hash != anchor["last_hash"]:
            report.broken_event_id = event.pk
            report.problem = (f"{_describe(event)} is event number {anchor_count}, but the outside anchor written "
                              f"at {anchor.get('written_at', '?')} recorded hash {anchor['last_hash'][:16]}… there: "
                              "the chain was rewritten")
            return report
    if anchor and report.count < anchor_count:
        report.problem = (f"the chain has {report.count} events but the outside anchor written at "
                          f"{anchor.get('written_at', '?')} recorded {anchor_count}: events were deleted")
        return report
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.count != report.count or head.last_hash != report.last_hash):
        report.problem = (f"the chain ends at event #{report.last_event_id} after {report.count} events, but the "
                          f"chain head records {head.count} events ending at #{head.last_event_id}: "
                          "events were deleted from the end, or the head was altered")
    return report
