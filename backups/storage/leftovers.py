"""Nothing partial survives: what a failure could not clean up at the time is recorded and swept later.

- `remove_or_remember`: delete a copy from a tier; if the tier is failing too, record a Leftover instead of
  letting the cleanup's own error spoil the run (or the other tiers, or the local copy).
- `sweep_leftovers`: retry every recorded leftover (objects and unfinished multipart uploads).
- `sweep_partials`: `.partial` files of runs that are finished or abandoned (never of running ones: another
  worker host may be writing into the same directory).
- `sweep_verify_temp`: temporary files of verifications that are no longer running (a killed worker's).
- `abort_stale_uploads`: multipart uploads older than LIFEBOAT_S3_STALE_UPLOAD_HOURS in every S3 tier.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from backups.errors import LifeboatError
from backups.models import BackupRun, Leftover, Tier, Verification
from backups.storage import storage_for
from backups.storage.interface import PARTIAL_OWNER

log = logging.getLogger(__name__)

# Verification temp files carry their verification's id: lifeboat-verify-<id>-...
VERIFY_TEMP = re.compile(r"^lifeboat-verify-(?P<id>\d+)-")
# Files with no owner in their name are removed only when this old.
UNOWNED_AGE = timedelta(hours=6)


def remove_or_remember(tier: Tier, location: str, version_id: str = "", *, run: BackupRun | None = None,
                       reason: str = "") -> bool:
    """Delete one copy; when the tier cannot, record it as a Leftover for the sweep. Never raises."""
    try:
        storage_for(tier).delete(location, version_id)
        return True
    except Exception as exc:  # the store is failing: remember, sweep later
        log.warning("could not remove %s from tier %s (recorded for the sweep): %s", location, tier, exc)
        Leftover.objects.create(tier=tier, location=location, version_id=version_id, run=run,
                                reason=reason[:300], last_error=str(exc))
        return False


def remember_upload(tier: Tier, key: str, error: str, run: BackupRun | None = None) -> Leftover:
    """An unfinished multipart upload of `key` that could not be aborted now."""
    return Leftover.objects.create(tier=tier, kind=Leftover.Kind.UPLOAD, location=key, run=run,
                                   reason="multipart upload not aborted", last_error=error)


def sweep_leftovers() -> int:
    """Retry every pending leftover; returns how many are gone now."""
    removed = 0
    for leftover in Leftover.objects.pending().select_related("tier"):
        try:
            storage = storage_for(leftover.tier)
            if leftover.kind == Leftover.Kind.UPLOAD:
                storage.abort_uploads(leftover.location, strict=True)
            elif not leftover.version_id and hasattr(storage, "delete_versions"):  # no version was ever recorded
                storage.delete_versions(leftover.location)
            else:
                storage.delete(leftover.location, leftover.version_id)
        except Exception as exc:
            Leftover.objects.filter(pk=leftover.pk).update(attempts=leftover.attempts + 1, last_error=str(exc))
            continue
        Leftover.objects.filter(pk=leftover.pk).update(removed_at=timezone.now())
        removed += 1
    return removed


def local_roots() -> list[Path]:
    """Every directory a backup writes into on this host: the local tiers and the staging directory."""
    roots = {Path(settings.LIFEBOAT_BACKUP_ROOT) / ".staging"}
    roots.update(tier.local_root for tier in Tier.objects.filter(kind=Tier.Kind.LOCAL))
    return sorted(roots)


def sweep_partials() -> list[Path]:
    """Remove `.partial` files whose run is finished or abandoned (or no longer exists)."""
    running = set(BackupRun.objects.active().values_list("pk", flat=True))
    removed = []
    for root in local_roots():
        if not root.is_dir():
            continue
        for path in root.rglob("*.partial"):
            owner = PARTIAL_OWNER.search(path.name)
            if owner:
                if int(owner.group("run")) in running:
                    continue
            elif not _older_than(path, UNOWNED_AGE):
                continue
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.info("removed %s partial files: %s", len(removed), ", ".join(map(str, removed)))
    return removed


def verify_temp_dir() -> Path:
    import tempfile

    return Path(settings.LIFEBOAT_VERIFY_TMP or tempfile.gettempdir())


def sweep_verify_temp() -> list[Path]:
    """Remove temporary files of verifications that are not running (their worker was killed)."""
    root = verify_temp_dir()
    if not root.is_dir():
        return []
    running = set(Verification.objects.filter(status=Verification.Status.RUNNING).values_list("pk", flat=True))
    removed = []
    for path in root.glob("lifeboat-verify-*"):
        owner = VERIFY_TEMP.match(path.name)
        if (int(owner.group("id")) not in running) if owner else _older_than(path, UNOWNED_AGE):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def abort_stale_uploads() -> int:
    """Abort multipart uploads older than LIFEBOAT_S3_STALE_UPLOAD_HOURS in every enabled S3 tier."""
    cutoff = timezone.now() - timedelta(hours=settings.LIFEBOAT_S3_STALE_UPLOAD_HOURS)
    aborted = 0
    for tier in Tier.objects.filter(kind=Tier.Kind.S3, enabled=True):
        try:
            aborted += storage_for(tier).abort_uploads_started_before(cutoff)
        except LifeboatError as exc:  # one unreachable bucket must not stop the others
            log.warning("stale uploads of tier %s not aborted: %s", tier, exc)
    return aborted


def _older_than(path: Path, age: timedelta) -> bool:
    try:
        return time.time() - path.stat().st_mtime > age.total_seconds()
    except FileNotFoundError:
        return False


def sweep_all() -> dict[str, int]:
    """The periodic task: each sweep on its own, so one failing does not stop the others."""
    done: dict[str, int] = {}
    for name, sweep in (("leftovers", sweep_leftovers), ("partials", lambda: len(sweep_partials())),
                        ("verify_temp", lambda: len(sweep_verify_temp())), ("stale_uploads", abort_stale_uploads)):
        try:
            done[name] = sweep()
        except Exception:
            log.exception("sweep of %s failed", name)
            done[name] = -1
    return done
