"""Copy the audit chain head outside the database, so a rewrite of the whole chain shows.

The chain alone proves only that nobody edited history *without recomputing the hashes*. Whoever owns the
database can drop the trigger, rewrite every event and recompute every hash. A head written elsewhere (here, a
JSON-lines file in the local tier's directory; copy it further, e.g. to S3 with object lock) pins what the
chain looked like at that moment: verification checks the event at that position still has that hash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from dashboard.audit_chain import ChainReport

ANCHOR_NAME = "lifeboat-audit-chain-head.jsonl"


def anchor_path() -> Path:
    """LIFEBOAT_AUDIT_ANCHOR_PATH, else the file in the first enabled local tier (else LIFEBOAT_BACKUP_ROOT)."""
    if settings.LIFEBOAT_AUDIT_ANCHOR_PATH:
        return Path(settings.LIFEBOAT_AUDIT_ANCHOR_PATH)
    from backups.models import Tier

    tier = Tier.objects.filter(kind=Tier.Kind.LOCAL, enabled=True).order_by("position", "name").first()
    root = tier.local_root if tier else Path(settings.LIFEBOAT_BACKUP_ROOT)
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
    return path
