"""Copy the audit chain head outside the database, so a rewrite of the whole chain shows.

The chain alone proves only that nobody edited history *without recomputing the hashes*. Whoever owns the
database can drop the trigger, rewrite every event and recompute every hash. A head written elsewhere (here, a
JSON-lines file in the local tier's directory, and one object per head in every enabled S3 tier, where
versioning and object lock keep it out of a database owner's reach) pins what the chain looked like at that
moment: verification checks the event at that position still has that hash.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from audit.chain import ChainReport

ANCHOR_NAME = "lifeboat-audit-chain-head.jsonl"
REMOTE_DIR = "audit-chain-heads"

log = logging.getLogger(__name__)


@dataclass
class AnchorSites:
    """Where heads go besides LIFEBOAT_AUDIT_ANCHOR_PATH. The audit trail sits below the backups app, so the
    backups app plugs its tiers in here (BackupsConfig.ready) instead of this module importing it."""

    local_dir: Callable[[], Path | None] = lambda: None
    # Stores the head file under a name everywhere off-host; returns the locations written.
    remote_put: Callable[[Path, str, dict[str, str]], list[str]] = lambda path, name, metadata: []
    # The newest head stored at each off-host site, each with "where" naming it (errors raise OSError-likes).
    remote_newest: Callable[[], list[dict]] = lambda: []
    # Every enabled off-host site, for what is kept there besides heads (audit segments, audit/segments.py).
    remote_sites: Callable[[], list[RemoteSite]] = lambda: []


@dataclass
class RemoteSite:
    """One off-host place (an S3 tier) as the audit trail sees it: what lies under a folder, put, read."""

    name: str
    # folder -> {name: storage class} of every object under it (names relative to the site, folder included)
    names: Callable[[str], dict[str, str]]
    put: Callable[[Path, str, dict[str, str]], str]  # stores a file under a name; returns its location
    read: Callable[[str], bytes]


SITES = AnchorSites()


def anchor_path() -> Path:
    """LIFEBOAT_AUDIT_ANCHOR_PATH, else the file in the first enabled local tier (else LIFEBOAT_BACKUP_ROOT)."""
    if settings.LIFEBOAT_AUDIT_ANCHOR_PATH:
        return Path(settings.LIFEBOAT_AUDIT_ANCHOR_PATH)
    root = SITES.local_dir() or Path(settings.LIFEBOAT_BACKUP_ROOT)
    return root / ANCHOR_NAME


def last_anchor(path: Path | None = None) -> dict | None:
    """The newest head written, or None when there is none yet (reads the file backwards, not into memory)."""
    path = path or anchor_path()
    if not path.exists():
        return None
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        block = b""
        while end > 0:
            start = max(0, end - 4096)
            f.seek(start)
            block = f.read(end - start) + block
            end = start
            lines = [line for line in block.splitlines() if line.strip()]
            if len(lines) > 1 or (lines and start == 0):
                return json.loads(lines[-1])
    return None


def known_anchors() -> list[dict]:
    """Every head kept outside the database: the local file's newest line and the newest copy at each off-host
    site. Checked together, a rewrite that also rewrote the local file still shows against the copies in S3
    (versioned, object-locked where declared), which the database's owner cannot reach."""
    anchors = []
    local = last_anchor()
    if local:
        anchors.append({**local, "where": str(anchor_path())})
    try:
        anchors += SITES.remote_newest()
        anchors += gap_bound_anchors()
    except Exception:  # an unreachable bucket must not hide the local check; the scheduled check runs again
        log.exception("could not read the audit chain heads kept off-host")
    return anchors


def head_count(name: str) -> int:
    """The count in a head's name `audit-chain-heads/<time>-<count>.json` (-1 for anything else)."""
    try:
        return int(name.rsplit("-", 1)[-1].removesuffix(".json"))
    except ValueError:
        return -1


def heads_at(site: RemoteSite, count: int) -> list[dict]:
    """Every head a site keeps for exactly `count` events (one per anchoring at that count)."""
    found = []
    for name in site.names(REMOTE_DIR):
        if name.endswith(".json") and head_count(name) == count:
            found.append({**json.loads(site.read(name)), "where": f"{site.name} ({name})", "off_host": True})
    return found


def gap_bound_anchors() -> list[dict]:
    """The off-host heads at the upper bound of each disclosed recovery gap: the newest head stops being the
    newest once the rebuilt chain is anchored again, and the gap's bound must still be checked against S3."""
    from audit.models import RECOVERY_GAP, AuditEvent

    bounds = set()
    for details in AuditEvent.objects.filter(action=RECOVERY_GAP).values_list("details", flat=True):
        try:
            bounds.add(int(details["to"]["count"]))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed gap is the chain check's to name
    anchors = []
    for site in SITES.remote_sites() if bounds else []:
        for count in bounds:
            anchors += heads_at(site, count)
    return anchors


def write_anchor(report: ChainReport, path: Path | None = None) -> Path:
    """Append the verified head (count, last hash, time) as one JSON line, fsynced. Only intact chains."""
    if not report.intact:
        raise ValueError("refusing to anchor a broken chain")
    path = path or anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"count": report.count, "last_hash": report.last_hash, "last_event_id": report.last_event_id,
                       "written_at": timezone.now().isoformat()}, sort_keys=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    copy_to_remote_tiers(line, report)
    return path


def copy_to_remote_tiers(line: str, report: ChainReport) -> list[str]:
    """Put the head as `audit-chain-heads/<time>-<count>.json` everywhere off-host (SITES.remote_put).

    The local file sits on the dashboard's own machine; an object in a versioned (ideally object-locked) bucket
    is what a database owner who rewrites history cannot quietly rewrite too.
    """
    name = f"{REMOTE_DIR}/{timezone.now():%Y%m%dT%H%M%S}-{report.count}.json"
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as tmp:
        tmp.write(line + "\n")
        tmp.flush()
        return SITES.remote_put(Path(tmp.name), name, {"lifeboat-audit-count": str(report.count)})
