"""The backups app's tiers as places for the audit chain head (audit.anchor.SITES), plugged in at start-up.

The audit trail sits below the backups app and cannot import it; the head still belongs in the first enabled
local tier's directory and, as one object per head, in every enabled S3 tier.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from backups.models import Feature, Tier
from backups.storage import storage_for

log = logging.getLogger(__name__)


def local_dir() -> Path | None:
    tier = Tier.objects.filter(enabled=True).that_can(Feature.LOCAL_PATH).order_by("position", "name").first()
    return tier.local_root if tier else None


def put_everywhere_off_host(path: Path, name: str, metadata: dict[str, str]) -> list[str]:
    """Store the head file in every enabled off-host tier that holds artifacts (S3); a failure is logged (the head
    is anchored locally)."""
    stored = []
    for tier in Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS | Feature.REMOTE):
        try:
            stored.append(storage_for(tier).put(path, name, metadata).location)
        except Exception:  # the chain is intact and anchored locally; a missing remote copy is only logged
            log.exception("copying the audit chain head to tier %s failed", tier)
    return stored


def newest_off_host() -> list[dict]:
    """The newest head stored in each enabled off-host tier (names are `<time>-<count>.json`: the highest count)."""
    from audit.anchor import REMOTE_DIR

    heads = []
    for tier in Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS | Feature.REMOTE):
        storage = storage_for(tier)
        names = [o for o in storage.list_names(".json") if o.name.startswith(f"{REMOTE_DIR}/")]
        if not names:
            continue
        newest = max(names, key=lambda o: (_count(o.name), o.name))
        with storage.open(newest.location) as body:
            heads.append({**json.loads(body.read().decode()), "where": f"tier {tier.name} ({newest.location})",
                          "off_host": True})
    return heads


def _count(name: str) -> int:
    from audit.anchor import head_count

    return head_count(name)


def site_for(tier: Tier):
    """A tier as an audit RemoteSite (audit/segments.py ships there, audit/rebuild.py reads from there)."""
    from audit.anchor import RemoteSite

    storage = storage_for(tier)
    locations: dict[str, str] = {}  # filled by names(): what read() opens

    def names(folder: str) -> dict[str, str]:
        found = {o.name: o for o in storage.list_names() if o.name.startswith(f"{folder}/")}
        locations.update((name, o.location) for name, o in found.items())
        return {name: o.storage_class for name, o in found.items()}

    def read(name: str) -> bytes:
        with storage.open(locations[name]) as body:
            return body.read()

    return RemoteSite(name=f"tier {tier.name}", names=names,
                      put=lambda path, name, metadata: storage.put(path, name, metadata).location, read=read)


def remote_sites() -> list:
    return [site_for(tier) for tier in Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS | Feature.REMOTE)]


def plug_in() -> None:
    from audit.anchor import SITES

    SITES.local_dir = local_dir
    SITES.remote_put = put_everywhere_off_host
    SITES.remote_newest = newest_off_host
    SITES.remote_sites = remote_sites
