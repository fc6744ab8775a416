"""Reproducible random samples of a period's backups: the seed is recorded, so anyone can draw them again."""

from __future__ import annotations

import random
import secrets

from audit import trail
from backups.models import BackupRun
from evidence.models import EvidenceSample
from evidence.period import Scope, ScopeError

MAX_SAMPLES = 500


def population(scope: Scope):
    runs = BackupRun.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.databases:
        runs = runs.filter(database__name__in=scope.databases)
    return runs.order_by("id")


def draw(run_ids: list[int], size: int, seed: str) -> list[int]:
    """The same ids, size and seed always give the same samples (Python's Mersenne Twister seeded by str)."""
    return random.Random(seed).sample(run_ids, min(size, len(run_ids)))


def take_sample(scope: Scope, size: int, *, seed: str = "", user=None) -> EvidenceSample:
    if not 1 <= size <= MAX_SAMPLES:
        raise ScopeError(f"ask for between 1 and {MAX_SAMPLES} samples, not {size}")
    seed = seed.strip()[:64] or secrets.token_hex(8)
    run_ids = list(population(scope).values_list("id", flat=True))
    sample = EvidenceSample.objects.create(
        requested_by=user, requested_by_name=trail.actor_name(user), since=scope.since, until=scope.until,
        databases=list(scope.databases), size=size, seed=seed, population_count=len(run_ids),
        picked_run_ids=draw(run_ids, size, seed))
    trail.record("evidence.sampled", actor=user, target=sample,
                 summary=f"{len(sample.picked_run_ids)} of {len(run_ids)} backups sampled with seed {seed}",
                 details={"period": scope.describe(), "size": size, "seed": seed, "population": len(run_ids),
                          "picked": sample.picked_run_ids})
    return sample
