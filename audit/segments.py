"""Ship the audit trail off-host as it is written: closed segments of events, as JSON lines, beside the heads.

Each hour (the `lifeboat:ship-audit-segments` schedule, whichever worker runs it) the events after the last
segment, up to the newest one written before the hour began, are closed into a new segment: an AuditSegment row
fixes its bounds (chain positions and event ids), the hash it follows, its last hash and the SHA-256 of its
bytes. Then every enabled off-host tier that lacks a segment gets it, as `audit-segments/<first>-<last>.jsonl`
(zero-padded positions: names sort in chain order). The row comes first and the bytes are a pure function of
the row and the (immutable) events, so a crash after an upload re-puts the same bytes under the same name:
nothing lost, nothing twice. Which tier holds which segment is read from the tier's listing, never from
bookkeeping that a crash could leave behind.

An object is one header line (`{"segment": {...}}`: bounds, hashes, count, SHA-256 of the event lines) and one
line per event (every hashed field, its hash, its HMAC tag, its id and position). audit/rebuild.py reads them back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.anchor import SITES
from audit.models import GENESIS_HASH, RECOVERY_GAP, AuditEvent, AuditSegment

SEGMENT_DIR = "audit-segments"
MAX_EVENTS = 5000  # an installation's first segment is cut in pieces: each stays small enough to hold in memory

log = logging.getLogger(__name__)


def segment_name(first_seq: int, last_seq: int) -> str:
    return f"{SEGMENT_DIR}/{first_seq:012d}-{last_seq:012d}.jsonl"


def positions_after(event: AuditEvent, seq: int) -> int:
    """The chain position an event takes after position `seq`: the next one, or past the lost events a recovery
    gap stands for (audit/chain.py counts the same way)."""
    if event.action == RECOVERY_GAP:
        return int(event.details["to"]["count"]) + 1
    return seq + 1


def event_line(event: AuditEvent, seq: int) -> bytes:
    body = {"seq": seq, "id": event.pk, "created_at": event.created_at.isoformat(), "actor": event.actor,
            "action": event.action, "target_type": event.target_type, "target_id": event.target_id,
            "summary": event.summary, "details": event.details, "prev_hash": event.prev_hash, "hash": event.hash,
            "mac": event.mac}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder,
                      ensure_ascii=False).encode() + b"\n"


def render(events: list[AuditEvent], first_seq: int) -> tuple[bytes, dict]:
    """The segment's bytes and its header: events must be contiguous (each follows the one before)."""
    lines, seq, seqs = [], first_seq - 1, []
    for event in events:
        seq = positions_after(event, seq)
        seqs.append(seq)
        lines.append(event_line(event, seq))
    body = b"".join(lines)
    header = {"first_seq": seqs[0], "last_seq": seqs[-1], "first_event_id": events[0].pk,
              "last_event_id": events[-1].pk, "prev_hash": events[0].prev_hash, "last_hash": events[-1].hash,
              "events": len(events), "events_sha256": hashlib.sha256(body).hexdigest()}
    data = json.dumps({"segment": header}, sort_keys=True, separators=(",", ":")).encode() + b"\n" + body
    return data, header


def render_row(row: AuditSegment) -> bytes:
    events = list(AuditEvent.objects.filter(id__gte=row.first_event_id, id__lte=row.last_event_id).order_by("id"))
    data, _ = render(events, row.first_seq) if events else (b"", {})
    return data


def close_segment(now: datetime | None = None) -> AuditSegment | None:
    """Close the next segment: the events after the last one, written before the current hour began.
    None when there is nothing to close, or the events do not follow the last segment (the chain check says why)."""
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    last = AuditSegment.objects.order_by("-last_seq").first()
    after_id, seq, prev = (last.last_event_id, last.last_seq, last.last_hash) if last else (0, 0, GENESIS_HASH)
    # Up to the newest event written before the hour began (by id: a clock set back never holds shipping up).
    cut = AuditEvent.objects.filter(id__gt=after_id, created_at__lt=hour).aggregate(cut=Max("id"))["cut"]
    events = []
    for event in AuditEvent.objects.filter(id__gt=after_id, id__lte=cut or 0).order_by("id")[:MAX_EVENTS]:
        if event.prev_hash != prev or event.compute_hash() != event.hash:
            log.error("audit event #%s does not follow the last shipped one: not shipping past it", event.pk)
            break
        events.append(event)
        prev = event.hash
    if not events:
        return None
    data, header = render(events, seq + 1)
    try:
        with transaction.atomic():
            return AuditSegment.objects.create(
                name=segment_name(header["first_seq"], header["last_seq"]), first_seq=header["first_seq"],
                last_seq=header["last_seq"], first_event_id=header["first_event_id"],
                last_event_id=header["last_event_id"], prev_hash=header["prev_hash"],
                last_hash=header["last_hash"], events=header["events"], sha256=hashlib.sha256(data).hexdigest())
    except IntegrityError:  # another worker closed the same segment first
        return None


@dataclass
class ShipReport:
    closed: list[str] = field(default_factory=list)
    shipped: list[str] = field(default_factory=list)  # "<site>: <name>"
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"closed": self.closed, "shipped": self.shipped, "errors": self.errors}


def ship_segments(now: datetime | None = None) -> ShipReport:
    """Close every segment that is due, then give every enabled off-host site the segments it lacks."""
    report = ShipReport()
    while (row := close_segment(now)) is not None:
        report.closed.append(row.name)
    for site in SITES.remote_sites():
        try:
            present = site.names(SEGMENT_DIR)
        except Exception as exc:  # one unreachable bucket must not stop the others; the next hour tries again
            report.errors.append(f"{site.name}: {exc}")
            log.exception("cannot list the audit segments in %s", site.name)
            continue
        for row in AuditSegment.objects.exclude(name__in=present).order_by("first_seq").iterator():
            try:
                report.shipped.append(f"{site.name}: {put_segment(site, row)}")
            except Exception as exc:
                report.errors.append(f"{site.name}: {row.name}: {exc}")
                log.exception("shipping audit segment %s to %s failed", row.name, site.name)
                break  # keep the site's segments contiguous: the rest waits for the next hour
    return report


def put_segment(site, row: AuditSegment) -> str:
    data = render_row(row)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise ValueError(f"{row.name}: the events no longer hash to the segment's SHA-256 (the trail was altered)")
    with tempfile.TemporaryDirectory(prefix="lifeboat-audit-") as tmp:  # private: the umask is 077
        path = Path(tmp) / Path(row.name).name
        path.write_bytes(data)
        location = site.put(path, row.name, {"lifeboat-audit-segment-sha256": row.sha256,
                                             "lifeboat-audit-first-seq": str(row.first_seq),
                                             "lifeboat-audit-last-seq": str(row.last_seq)})
    AuditSegment.objects.filter(pk=row.pk).update(locations=sorted({*row.locations, location}))
    return row.name
