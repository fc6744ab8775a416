"""A database's history as chart series: backup size and duration, and verification restore time.

Each series is one query over the newest TREND_RUNS runs (values only, no model instances), so the database page
costs the same whatever the history holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.safestring import SafeString

from backups.models import BackupRun, Database, Verification
from core.charts import time_series_chart

TREND_RUNS = 90


@dataclass(frozen=True)
class Trends:
    size: list[tuple[datetime, float]]  # stored bytes per good run (the chart picks the unit)
    duration: list[tuple[datetime, float]]  # seconds per good run
    restore: list[tuple[datetime, float]]  # seconds of pg_restore per passed verification
    failed: list[datetime] = ()  # when the failed runs among the newest started, marked on the charts

    @classmethod
    def of(cls, database: Database, limit: int = TREND_RUNS) -> Trends:
        runs = list(BackupRun.objects.good().filter(database=database, started_at__isnull=False,
                                                    finished_at__isnull=False)
                    .order_by("-started_at").values_list("started_at", "finished_at", "size_bytes")[:limit])
        failed = list(BackupRun.objects.filter(database=database, status__in=(BackupRun.Status.FAILED,
                                                                              BackupRun.Status.ABANDONED))
                      .order_by("-created_at").values_list("created_at", flat=True)[:limit])
        restores = list(Verification.objects.filter(artifact__run__database=database,
                                                    status=Verification.Status.PASSED,
                                                    restore_seconds__isnull=False)
                        .order_by("-created_at").values_list("created_at", "restore_seconds")[:limit])
        return cls(
            size=[(started, float(size)) for started, _, size in runs if size is not None],
            duration=[(started, (finished - started).total_seconds()) for started, finished, _ in runs],
            restore=[(at, seconds) for at, seconds in restores],
            failed=failed,
        )

    def charts(self, name: str) -> dict[str, SafeString]:
        no_backup = "No good backup yet." + (f" {len(self.failed)} failed." if self.failed else "")
        if self.size or self.duration:  # failures are marked only beside good runs: alone they would read as data
            failures = [at for at in self.failed if at >= min(x for x, _ in self.size or self.duration)]
        else:
            failures = []
        return {
            "size": time_series_chart(f"Stored size of {name}", {name: self.size}, quantity="bytes",
                                    failures=failures, empty_text=no_backup),
            "duration": time_series_chart(f"Backup duration of {name}", {name: self.duration}, quantity="seconds",
                                        failures=failures, empty_text=no_backup),
            "restore": time_series_chart(f"Verification restore time of {name}", {name: self.restore},
                                       quantity="seconds", empty_text="No verification has passed yet."),
        }
