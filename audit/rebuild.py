"""Rebuild the audit trail from the segments shipped off-host (audit/segments.py), after Lifeboat's loss.

The database holds nothing of the trail (a fresh one) or a prefix of it (a restored self-backup). Every segment
after that prefix is read, checked (its header against its bytes, every event's hash, the link to the event
before it, each HMAC tag when LIFEBOAT_AUDIT_KEY is set, the chain heads kept off-host at its positions) and
inserted with its original ids. When the newest off-host head is further than what came back, the events in
between are gone: ONE `audit.recovery_gap` event, hash-chained like any other, says from which head to which, how
many and why; verify_audit_log then reports the gap as disclosed, not as tampering (audit/chain.py). Everything
happens in one transaction: a segment that does not check out leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, models, transaction

from audit import trail
from audit.anchor import REMOTE_DIR, RemoteSite, head_count
from audit.chain import verify_chain
from audit.models import RECOVERY_GAP, AuditChainHead, AuditEvent, AuditSegment
from audit.segments import SEGMENT_DIR, positions_after

COLD = ("GLACIER", "DEEP_ARCHIVE")
SEGMENT_NAME = re.compile(r"\d{12}-\d{12}\.jsonl")
EVENT_FIELDS = ("created_at", "actor", "action", "target_type", "target_id", "summary", "details", "prev_hash",
                "hash", "mac")


class RebuildError(Exception):
    """The shipped trail cannot be trusted or does not fit the database's: nothing was changed."""


@dataclass
class RebuildReport:
    site: str
    had: int = 0  # chain positions the database held before
    loaded: int = 0  # events inserted from segments
    segments: list[str] = field(default_factory=list)  # segments read
    count: int = 0  # positions after the rebuild (the gap's events included)
    newest_head: int = 0
    gap_event_id: int | None = None
    missing: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()

    def line(self) -> str:
        line = (f"audit trail rebuilt from {self.site}: {self.had} events already here, {self.loaded} loaded from "
                f"{len(self.segments)} segments, newest off-host head at {self.newest_head}")
        if self.gap_event_id:
            line += (f"; {self.missing} events after the last shipped one are lost, disclosed by "
                     f"{RECOVERY_GAP} event #{self.gap_event_id}")
        return line


def _seq_bounds(name: str) -> tuple[int, int]:
    first, last = name.rsplit("/", 1)[-1].removesuffix(".jsonl").split("-")
    return int(first), int(last)


def _parse(site: RemoteSite, name: str) -> tuple[dict, list[dict]]:
    """The header (with the object's SHA-256 added) and the event lines, once they agree with each other."""
    data = site.read(name)
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)["segment"]
        events = [json.loads(line) for line in body.splitlines()]
    except (ValueError, KeyError, TypeError) as exc:
        raise RebuildError(f"{site.name}: {name} is not an audit segment ({exc})") from None
    if hashlib.sha256(body).hexdigest() != header.get("events_sha256"):
        raise RebuildError(f"{site.name}: {name}: its events do not hash to its header's SHA-256 (altered)")
    if (header["first_seq"], header["last_seq"]) != _seq_bounds(name) or len(events) != header["events"]:
        raise RebuildError(f"{site.name}: {name}: its header does not match its name or its events")
    return {**header, "sha256": hashlib.sha256(data).hexdigest()}, events


def _event(line: dict) -> AuditEvent:
    event = AuditEvent(id=line["id"], **{f: line[f] for f in EVENT_FIELDS})
    event.created_at = AuditEvent._meta.get_field("created_at").to_python(line["created_at"])
    return event


def _check(event: AuditEvent, prev_hash: str, name: str, key: str) -> None:
    if event.prev_hash != prev_hash:
        raise RebuildError(f"{name}: event #{event.pk} does not follow the event before it (prev_hash differs)")
    if event.compute_hash() != event.hash:
        raise RebuildError(f"{name}: event #{event.pk} was edited: its content no longer matches its hash")
    if key and event.mac and not hmac.compare_digest(event.mac, AuditEvent.tag(event.hash, key)):
        raise RebuildError(f"{name}: event #{event.pk} carries an HMAC tag LIFEBOAT_AUDIT_KEY does not produce")


def _heads(site: RemoteSite, names: dict[str, str]) -> dict[int, dict]:
    """Every readable head by count (the tier's lifecycle may have made old ones cold; the newest never is)."""
    heads = {}
    for name, storage_class in names.items():
        count = head_count(name)
        if name.endswith(".json") and count > 0 and storage_class not in COLD:
            heads[count] = {**json.loads(site.read(name)), "where": f"{site.name} ({name})", "off_host": True}
    return heads


def rebuild_trail(site: RemoteSite, *, key: str | None = None) -> RebuildReport:
    """Load what the database lacks from the site's segments; disclose what no segment holds. One transaction."""
    key = settings.LIFEBOAT_AUDIT_KEY if key is None else key
    report = RebuildReport(site=site.name)
    with transaction.atomic():
        AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        own = verify_chain(None, key)
        if not own.intact:
            raise RebuildError(f"the database's own audit trail is broken, fix that first: {own.problem}")
        if own.gaps:
            raise RebuildError(f"the trail was rebuilt already ({RECOVERY_GAP} event #{own.gaps[0]['event_id']})")
        report.had = seq = own.count
        prev_hash, last_id = own.last_hash, own.last_event_id
        listed = site.names(SEGMENT_DIR)
        heads = _heads(site, site.names(REMOTE_DIR))
        names = sorted(n for n in listed if SEGMENT_NAME.fullmatch(n.rsplit("/", 1)[-1]))
        rows = []
        for name in names:
            first, last = _seq_bounds(name)
            if last <= seq:
                continue  # the database holds these already (the chain check below compares the heads)
            if first > seq + 1:
                raise RebuildError(f"{site.name}: no segment holds events {seq + 1}..{first - 1} "
                                   f"(the next one is {name})")
            if listed[name] in COLD:
                raise RebuildError(f"{site.name}: {name} is in {listed[name]}: restore it first (S3 RestoreObject)")
            header, lines = _parse(site, name)
            fresh = []
            for line in lines:
                event = _event(line)
                if line["seq"] <= seq:
                    if line["seq"] == seq and event.hash != prev_hash:
                        raise RebuildError(f"{name}: event number {seq} is not the one this database holds: the "
                                           "database's trail is not a prefix of the shipped one")
                    continue
                _check(event, prev_hash, name, key)
                if line["seq"] != positions_after(event, seq):
                    raise RebuildError(f"{name}: event #{event.pk} is at position {line['seq']}, expected "
                                       f"{positions_after(event, seq)}")
                seq, prev_hash, last_id = line["seq"], event.hash, event.pk
                fresh.append(event)
            AuditEvent.objects.bulk_create(fresh)  # ids kept: heads and segments name them
            report.loaded += len(fresh)
            report.segments.append(name)
            rows.append((name, header))
        if report.loaded:
            _reset_sequence()
            AuditChainHead.objects.filter(pk=1).update(last_hash=prev_hash, last_event_id=last_id, count=seq)
        _record_segments(rows, site.name)
        report.newest_head = max(heads, default=0)
        pinned = [h for c, h in heads.items() if c <= seq]
        if report.newest_head > seq:
            newest = heads[report.newest_head]
            report.missing = report.newest_head - seq
            gap = _write_gap(seq, prev_hash, last_id, newest, report.missing, names)
            report.gap_event_id = gap.pk
            pinned.append(newest)
        checked = verify_chain(pinned, key)
        if not checked.intact:
            raise RebuildError(f"the rebuilt trail does not check out against the heads kept off-host: "
                               f"{checked.problem}")
        report.count = checked.count
    return report


def _write_gap(seq: int, prev_hash: str, last_id: int | None, newest: dict, missing: int,
               names: list[str]) -> AuditEvent:
    event = trail.record(
        RECOVERY_GAP,
        summary=f"{missing} audit events after event number {seq} were lost with Lifeboat's database",
        details={"from": {"count": seq, "last_hash": prev_hash, "last_event_id": last_id,
                          "last_segment": names[-1] if names else None},
                 "to": {"count": int(newest["count"]), "last_hash": newest["last_hash"],
                        "last_event_id": newest.get("last_event_id"), "where": newest["where"],
                        "written_at": newest.get("written_at")},
                 "missing": missing,
                 "reason": "Lifeboat's database was lost; these events were written after the last audit segment "
                           "shipped off-host (and after the self-backup restored), and before the newest chain "
                           "head anchored off-host"})
    # record() counted the gap event itself; the events it stands for keep their positions (audit/chain.py).
    AuditChainHead.objects.filter(pk=1).update(count=models.F("count") + missing)
    return event


def _reset_sequence() -> None:
    """Events were inserted with their own ids: the next one written must come after them (PostgreSQL)."""
    statements = connection.ops.sequence_reset_sql(_no_style(), [AuditEvent])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _no_style():
    from django.core.management.color import no_style

    return no_style()


def _record_segments(rows: list[tuple[str, dict]], where: str) -> None:
    """The segments read become AuditSegment rows, so shipping carries on after them (not from position 1)."""
    if AuditSegment._meta.db_table not in connection.introspection.table_names():
        return  # a self-backup from before segments: migrate adds the table, shipping starts afresh
    for name, header in rows:
        AuditSegment.objects.get_or_create(name=name, defaults={
            "first_seq": header["first_seq"], "last_seq": header["last_seq"],
            "first_event_id": header["first_event_id"], "last_event_id": header["last_event_id"],
            "prev_hash": header["prev_hash"], "last_hash": header["last_hash"], "events": header["events"],
            "sha256": header["sha256"], "locations": [where]})
