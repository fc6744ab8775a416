"""Calls per token per minute, counted in the shared cache (Redis with REDIS_URL, else the database cache table),
so every web process and server counts the same calls.

A fixed one-minute window: `add` creates the window's counter, `incr` counts. On Redis both are atomic; on the
database cache two simultaneous calls can read the same count, so a burst may pass a call or two over the limit.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def over_limit(token_id: int, now: float | None = None) -> int | None:
    """Count one call; the seconds to wait (for Retry-After) when the token is over its limit, else None."""
    limit = settings.LIFEBOAT_API_RATE_LIMIT
    if limit <= 0:
        return None
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"lifeboat:api-rate:{token_id}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this call opens the window
        cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
        count = 1
    if count <= limit:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
