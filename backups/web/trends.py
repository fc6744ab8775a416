"""A database's history as chart series: backup size and duration, and verification restore time.

Each series is one query over the newest TREND_RUNS runs (values only, no model instances), so the database page
costs the same whatever the history holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.safestring import SafeString

from backups.models import BackupRun, Database, Verification
from core.charts import time_series_svg

TREND_RUNS = 90
MIB = 1024 * 1024


@dataclass(frozen=True)
class Trends:
    size: list[tuple[datetime, float]]  # stored MiB per good run
    duration: list[tuple[datetime, float]]  # seconds per good run
    restore: list[tuple[datetime, float]]  # seconds of pg_restore per passed verification

    @classmethod
    def of(cls, database: Database, limit: int = TREND_RUNS) -> Trends:
        runs = list(BackupRun.objects.good().filter(database=database, started_at__isnull=False,
                                                    finished_at__isnull=False)
                    .order_by("-started_at").values_list("started_at", "finished_at", "size_bytes")[:limit])
        restores = list(Verification.objects.filter(artifact__run__database=database,
                                                    status=Verification.Status.PASSED,
                                                    restore_seconds__isnull=False)
                        .order_by("-created_at").values_list("created_at", "restore_seconds")[:limit])
        return cls(
            size=[(started, size / MIB) for started, _, size in runs if size is not None],
            duration=[(started, (finished - started).total_seconds()) for started, finished, _ in runs],
            restore=[(at, seconds) for at, seconds in restores],
        )

    def charts(self, name: str) -> dict[str, SafeString]:
        return {
            "size": time_series_svg(f"Stored size of {name}", {name: self.size}, y_title="MiB (zstd)",
                                    value_format=lambda v: f"{v:.1f} MiB"),
            "duration": time_series_svg(f"Backup duration of {name}", {name: self.duration}, y_title="seconds",
                                        value_format=lambda v: f"{v:.1f} s"),
            "restore": time_series_svg(f"Verification restore time of {name}", {name: self.restore},
                                       y_title="seconds", value_format=lambda v: f"{v:.1f} s"),
        }
