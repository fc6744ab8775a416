"""Prometheus metrics read from the database at scrape time (a custom collector, no state in the process).

Every web worker answers the same numbers, because they come from the rows, not from counters kept in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from alerts.models import Alert
from backups.models import (
    Artifact,
    BackupRun,
    Database,
    Feature,
    Freshness,
    FreshnessReport,
    Restore,
    Tier,
    Verification,
)

PAIR = ["database", "tier"]


def _ts(value) -> float:
    return value.timestamp()


def backup_pairs(now) -> Iterator[tuple[Database, Tier, FreshnessReport]]:
    """Every enabled database with each of its backup tiers (Database.backup_tiers) and its freshness there, from
    the overview's matrix: a constant number of queries however many databases (was five per pair)."""
    from backups.web.overview import freshness_matrix

    default = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))
    chosen: dict[int, set[int]] = defaultdict(set)
    for database_id, tier_id in Database.tiers.through.objects.filter(tier__enabled=True).values_list(
            "database_id", "tier_id"):
        chosen[database_id].add(tier_id)
    wanted_anywhere = set().union(*chosen.values()) - {t.pk for t in default}
    tiers = sorted([*default, *Tier.objects.filter(pk__in=wanted_anywhere)], key=lambda t: (*t.nearness, t.name))
    for row in freshness_matrix(tiers, now, databases=Database.objects.filter(enabled=True)):
        wanted = chosen.get(row.database.pk) or {t.pk for t in default}
        for tier, report in zip(tiers, row.cells, strict=True):
            if tier.pk in wanted:
                yield row.database, tier, report


def _last_passes() -> dict[tuple[int, int], object]:
    """(database, tier) -> when a copy that is verified now last passed (a pass superseded by a failure of the
    same copy is void), in one query."""
    rows = (Verification.objects.filter(artifact__in=Artifact.objects.verified(), status=Verification.Status.PASSED,
                                        finished_at__isnull=False)
            .values_list("artifact__run__database_id", "artifact__tier_id").annotate(last=Max("finished_at"))
            .order_by())
    return {(database_id, tier_id): last for database_id, tier_id, last in rows}


class LifeboatCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        success = GaugeMetricFamily("lifeboat_backup_last_success_timestamp_seconds",
                                    "When the backup behind the newest good copy in a tier finished (Unix time).",
                                    labels=PAIR)
        verified = GaugeMetricFamily("lifeboat_backup_last_verified_timestamp_seconds",
                                     "When a copy in a tier that is verified now (its newest restore test passed) "
                                     "last passed one (Unix time).", labels=PAIR)
        size = GaugeMetricFamily("lifeboat_backup_last_size_bytes", "Size of the newest good copy in a tier.",
                                 labels=PAIR)
        duration = GaugeMetricFamily("lifeboat_backup_last_duration_seconds",
                                     "How long the backup behind the newest good copy in a tier took.", labels=PAIR)
        late = GaugeMetricFamily("lifeboat_backup_late", "1 when a tier holds no good copy within the RPO.",
                                 labels=PAIR)
        rpo = GaugeMetricFamily("lifeboat_backup_rpo_seconds", "The database's recovery point objective.",
                                labels=["database"])
        for database in Database.objects.filter(enabled=True):  # a disabled (imported) database is history
            rpo.add_metric([database.name], database.rpo_hours * 3600)
        last_passes = _last_passes()
        for database, tier, report in backup_pairs(now):
            labels = [database.name, tier.name]
            newest = report.newest
            if newest is not None:
                success.add_metric(labels, _ts(newest.run.finished_at or newest.run.started_at))
                if newest.size_bytes is not None:
                    size.add_metric(labels, newest.size_bytes)
                if newest.run.duration is not None:
                    duration.add_metric(labels, newest.run.duration.total_seconds())
            if (last_pass := last_passes.get((database.pk, tier.pk))) is not None:
                verified.add_metric(labels, _ts(last_pass))
            late.add_metric(labels, float(report.status == Freshness.LATE))
        yield from (success, verified, size, duration, late, rpo)
        yield from self._failures()
        yield from self._running()
        yield self._alerts()
        yield from drill_recovery_metrics()

    def _failures(self) -> Iterator[Metric]:
        failed = CounterMetricFamily("lifeboat_backup_failures", "Backup runs that failed or were abandoned.",
                                     labels=["database"])
        rows = Database.objects.annotate(n=Count("runs", filter=Q(runs__status__in=["failed", "abandoned"])))
        for database in rows:
            failed.add_metric([database.name], database.n)
        uploads = CounterMetricFamily("lifeboat_upload_failures", "Copies that could not be stored in a tier.",
                                      labels=PAIR)
        for row in (Artifact.objects.filter(status=Artifact.Status.FAILED)
                    .values("run__database__name", "tier__name").annotate(n=Count("pk"))):
            uploads.add_metric([row["run__database__name"], row["tier__name"]], row["n"])
        verifications = CounterMetricFamily("lifeboat_verification_failures", "Restore tests that failed.",
                                            labels=PAIR)
        for row in (Verification.objects.filter(status=Verification.Status.FAILED)
                    .values("artifact__run__database__name", "artifact__tier__name").annotate(n=Count("pk"))):
            verifications.add_metric([row["artifact__run__database__name"], row["artifact__tier__name"]], row["n"])
        yield from (failed, uploads, verifications)

    def _running(self) -> Iterator[Metric]:
        backups = GaugeMetricFamily("lifeboat_backup_running", "Backups of a database queued or running.",
                                    labels=["database"])
        active = dict(BackupRun.objects.active().values_list("database__name").annotate(n=Count("pk")))
        for name in Database.objects.values_list("name", flat=True):
            backups.add_metric([name], active.get(name, 0))
        jobs = GaugeMetricFamily("lifeboat_jobs_running", "Jobs queued or running, by kind.", labels=["kind"])
        jobs.add_metric(["backup"], sum(active.values()))
        jobs.add_metric(["verification"], Verification.objects.filter(status__in=["queued", "running"]).count())
        jobs.add_metric(["restore"], Restore.objects.filter(status__in=["queued", "running"]).count())
        yield from (backups, jobs)

    def _alerts(self) -> Metric:
        family = GaugeMetricFamily("lifeboat_alerts_open", "Open alerts, by kind and severity.",
                                   labels=["kind", "severity"])
        for row in Alert.objects.open().values("kind", "severity").annotate(n=Count("pk")):
            family.add_metric([row["kind"], row["severity"]], row["n"])
        return family


def drill_recovery_metrics() -> Iterator[Metric]:
    """Measured recovery time (declared to data validated) of each scenario's latest completed real drill."""
    from drills.models import Drill

    family = GaugeMetricFamily("lifeboat_drill_recovery_seconds",
                               "Measured recovery time of the latest completed real drill of a scenario.",
                               labels=["scenario"])
    seen: set[int] = set()
    drills = (Drill.objects.real().completed().filter(recovery_seconds__isnull=False)
              .select_related("scenario").order_by("-completed_at"))
    for drill in drills:
        if drill.scenario_id not in seen:
            seen.add(drill.scenario_id)
            family.add_metric([str(drill.scenario)], drill.recovery_seconds)
    yield family


registry = CollectorRegistry(auto_describe=False)
registry.register(LifeboatCollector())
