"""A year of daily runs exports with flat memory. The bound is an order of magnitude above what
bench/evidence_bench.py measures (about 1.6 MiB for 365 runs, 4.2 MiB for 10,950), so it cannot flake; a
package built in memory, or querysets loaded whole, would go far beyond it at larger sizes."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from datetime import date

from evidence.export import build_package
from evidence.period import Scope
from tests.evidence_data import daily_history

BOUND = 32 * 2**20


def test_a_year_of_daily_runs_exports_within_a_flat_memory_bound(db, local_tier, tmp_path):
    daily_history("orders", date(2025, 1, 1), 365, fail_every=30)
    output = tmp_path / "year.zip"

    tracemalloc.start()
    try:
        manifest = build_package(Scope.build(date(2025, 1, 1), date(2025, 12, 31)), output, exported_by="test")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < BOUND, f"peak {peak / 2**20:.1f} MiB"
    counts = {p["name"]: p["count"] for p in manifest["populations"]}
    assert counts["backup_runs"] == 365 and counts["verifications"] == 365 - 12
    with zipfile.ZipFile(output) as archive:
        assert len(json.loads(archive.read("backup_runs.json"))) == 365
        assert archive.testzip() is None
