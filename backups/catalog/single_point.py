"""Is Lifeboat a single point of failure for itself? True when every enabled tier lies on the filesystem that
holds Lifeboat's own database (or, with PostgreSQL on this machine, every tier is a local directory): losing
that disk or server then loses the database, its backups, its self-backups and the audit anchor together.

The overview shows the returned sentence and `manage.py check` warns with it (dashboard/checks.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from backups.catalog import own_database
from backups.models import Feature, Tier


def device_of(path: Path) -> int | None:
    """st_dev of the path, or of its nearest existing parent (a tier directory not made yet will be made there)."""
    for candidate in (path, *path.parents):
        try:
            return os.stat(candidate).st_dev
        except OSError:
            continue
    return None


def _own_location(own: dict[str, Any]) -> tuple[str, int | None]:
    """(description, st_dev) of Lifeboat's database when it lives on this machine, else ("", None)."""
    if own_database.is_sqlite(own):
        name = str(own["NAME"])
        if name.startswith("file:") or name == ":memory:":
            return "", None
        return f"its SQLite database {name}", device_of(Path(name))
    if own_database.is_postgresql(own) and (own.get("HOST") or "") in own_database.LOCAL_HOSTS:
        return f"its PostgreSQL database on {own.get('HOST') or 'localhost'}", -1  # this machine, any disk
    return "", None


def single_point_of_failure(tiers: list[Tier] | None = None, own: dict[str, Any] | None = None) -> str:
    """The warning to show, or "" when at least one enabled tier survives the loss of Lifeboat's server."""
    own = own or own_database.own_settings()
    if tiers is None:
        tiers = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))
    what, device = _own_location(own)
    if not tiers or device is None or any(not tier.can(Feature.LOCAL_PATH) for tier in tiers):
        return ""
    if device != -1 and any(device_of(tier.local_root) != device for tier in tiers):
        return ""
    names = ", ".join(tier.name for tier in tiers)
    return (f"Single point of failure: every enabled tier ({names}) is on the same "
            f"{'machine' if device == -1 else 'filesystem'} as {what}. Losing this server loses Lifeboat, "
            "its backups, its self-backups and the audit anchor together: add an off-host tier (S3).")
