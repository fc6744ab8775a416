"""Check the audit chain end to end, in constant memory, and name the first event that breaks it.

A break is one of: an event whose stored hash is not the hash of its content (edited), an event whose
prev_hash is not the hash of the event before it (an event deleted, inserted or reordered before it), or a
chain shorter or different from what the chain head (and the last outside anchor) recorded (events deleted
at the end, or the whole chain rewritten).

One thing is not a break: a single `audit.recovery_gap` event, written by the recovery command when Lifeboat's
database was lost (audit/rebuild.py), whose bounds match the chain before it and the head kept off-host at the
end of what was lost. It stands for the lost events: the chain's positions continue after them, so the heads
anchored before the loss and those anchored after it both keep their places. Any other gap event (a second
one, bounds that do not match, a bound no off-host head confirms) is a break.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from django.conf import settings

from audit.models import GENESIS_HASH, RECOVERY_GAP, AuditChainHead, AuditEvent

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
    gaps: list[dict] = field(default_factory=list)  # disclosed recovery gaps (at most one in an intact chain)

    @property
    def intact(self) -> bool:
        return not self.problem

    def line(self) -> str:
        if not self.intact:
            return f"audit chain BROKEN: {self.problem}"
        line = f"audit chain intact: {self.count} events, head {self.last_hash}"
        for gap in self.gaps:
            line += "\n" + gap_line(gap)
        return line

    def as_dict(self) -> dict:
        return {"intact": self.intact, "count": self.count, "last_hash": self.last_hash,
                "last_event_id": self.last_event_id, "broken_event_id": self.broken_event_id,
                "problem": self.problem, "warnings": self.warnings, "gaps": self.gaps}


def gap_line(gap: dict) -> str:
    return (f"disclosed recovery gap: events {gap['from_count'] + 1}..{gap['to_count']} ({gap['missing']} events) "
            f"were lost with Lifeboat's database and are recorded as missing by event #{gap['event_id']} "
            f"({gap['reason']})")


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
        if event.action == RECOVERY_GAP and _gap_problem(report, event, by_count):
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


def _gap_problem(report: ChainReport, event: AuditEvent, by_count: dict[int, dict]) -> bool:
    """A disclosed gap moves the count past the events it stands for; anything but one well-bounded gap breaks."""
    def broken(why: str) -> bool:
        report.broken_event_id = event.pk
        report.problem = f"{_describe(event)} is not an honest recovery gap: {why}"
        return True

    try:
        start, end = event.details["from"], event.details["to"]
        from_count, to_count, missing = int(start["count"]), int(end["count"]), int(event.details["missing"])
        to_hash = str(end["last_hash"])
    except (KeyError, TypeError, ValueError):
        return broken("its bounds are missing or malformed")
    if report.gaps:
        return broken(f"the chain already discloses a gap (event #{report.gaps[0]['event_id']}); there is only one")
    if from_count != report.count or start.get("last_hash") != report.last_hash:
        return broken(f"it starts after event number {from_count}, but the chain before it has {report.count} "
                      "events ending elsewhere")
    if to_count <= from_count or missing != to_count - from_count:
        return broken(f"it claims {missing} missing events between {from_count} and {to_count}")
    pinned = by_count.get(to_count)
    if pinned is not None and pinned["last_hash"] != to_hash:
        return broken(f"its upper bound (event number {to_count}, hash {to_hash[:16]}…) is not the head kept "
                      f"{_where(pinned)}(hash {pinned['last_hash'][:16]}…)")
    if pinned is None and any(a.get("off_host") for a in by_count.values()):
        return broken(f"no chain head kept off-host records event number {to_count}")
    if pinned is None:
        report.warnings.append(f"the recovery gap's upper bound (event number {to_count}) was not checked against "
                               "an off-host chain head (none could be read)")
    report.gaps.append({"event_id": event.pk, "from_count": from_count, "to_count": to_count, "missing": missing,
                        "from_hash": report.last_hash, "to_hash": to_hash, "at": event.created_at.isoformat(),
                        "reason": str(event.details.get("reason", ""))[:200]})
    report.count = to_count  # the lost events keep their places; the gap event itself is the next position
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
