"""Prometheus metrics read from the database at scrape time (no state in the process).

Every web worker answers the same numbers, because they come from the rows, not from counters kept in memory.

`families()` reads them into plain Family objects and `exposition()` writes the Prometheus text format (0.0.4)
directly: at a thousand databases x three tiers, prometheus-client's Metric and Sample objects and its per-sample
formatting were a third of the scrape. The text is the one prometheus-client's generate_latest() writes for the
same families (tested byte for byte), and `LifeboatCollector` still hands them to prometheus-client for whoever
registers it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

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

PAIR = ("database", "tier")


@dataclass
class Family:
    """One metric family as plain data: its samples are (label values in `labels`' order, value)."""
    name: str
    type: str  # "gauge" or "counter" (its samples are then named <name>_total)
    help: str
    labels: tuple[str, ...]
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, values: tuple[str, ...] | list[str], value: float) -> None:
        self.samples.append((tuple(values), value))


def gauge(name: str, help_text: str, labels: tuple[str, ...]) -> Family:
    return Family(name, "gauge", help_text, labels)


def counter(name: str, help_text: str, labels: tuple[str, ...]) -> Family:
    return Family(name, "counter", help_text, labels)


def _ts(value) -> float:
    return value.timestamp()


def backup_matrix(now):
    """The overview's matrix of every enabled database over the tiers any of them backs up to, and for each row
    the tiers it backs up to (Database.backup_tiers: its chosen tiers, else every enabled one): a constant number
    of queries however many databases (was five per pair)."""
    from backups.web.overview import freshness_matrix

    default = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))
    chosen: dict[int, set[int]] = defaultdict(set)
    for database_id, tier_id in Database.tiers.through.objects.filter(tier__enabled=True).values_list(
            "database_id", "tier_id"):
        chosen[database_id].add(tier_id)
    everywhere = {t.pk for t in default}
    wanted_anywhere = set().union(*chosen.values()) - everywhere
    tiers = sorted([*default, *Tier.objects.filter(pk__in=wanted_anywhere)], key=lambda t: (*t.nearness, t.name))
    rows = freshness_matrix(tiers, now, databases=Database.objects.filter(enabled=True))
    return tiers, [(row, chosen.get(row.database.pk) or everywhere) for row in rows]


def backup_pairs(now) -> Iterator[tuple[object, Tier, FreshnessReport]]:
    """Every enabled database (a row of the matrix: backups.web.overview.DatabaseRow) with each of its backup tiers
    and its freshness there."""
    tiers, rows = backup_matrix(now)
    for row, wanted in rows:
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


def families(now=None) -> list[Family]:
    """Every family /metrics answers, in the order it answers them."""
    now = now or timezone.now()
    success = gauge("lifeboat_backup_last_success_timestamp_seconds",
                    "When the backup behind the newest good copy in a tier finished (Unix time).", PAIR)
    verified = gauge("lifeboat_backup_last_verified_timestamp_seconds",
                     "When a copy in a tier that is verified now (its newest restore test passed) "
                     "last passed one (Unix time).", PAIR)
    size = gauge("lifeboat_backup_last_size_bytes", "Size of the newest good copy in a tier.", PAIR)
    duration = gauge("lifeboat_backup_last_duration_seconds",
                     "How long the backup behind the newest good copy in a tier took.", PAIR)
    late = gauge("lifeboat_backup_late", "1 when a tier holds no good copy within the RPO.", PAIR)
    rpo = gauge("lifeboat_backup_rpo_seconds", "The database's recovery point objective.", ("database",))
    last_passes = _last_passes()
    tiers, rows = backup_matrix(now)
    for row, wanted in rows:  # enabled databases only: a disabled (imported) database is history
        database = row.database
        rpo.add((database.name,), database.rpo_hours * 3600)
        for tier, report in zip(tiers, row.cells, strict=True):
            if tier.pk not in wanted:
                continue
            labels = (database.name, tier.name)
            newest = report.newest
            if newest is not None:
                run = newest.run
                success.add(labels, _ts(run.finished_at or run.started_at))
                if newest.size_bytes is not None:
                    size.add(labels, newest.size_bytes)
                if (took := run.duration) is not None:
                    duration.add(labels, took.total_seconds())
            if (last_pass := last_passes.get((database.pk, tier.pk))) is not None:
                verified.add(labels, _ts(last_pass))
            late.add(labels, float(report.status == Freshness.LATE))
    return [success, verified, size, duration, late, rpo, *_failures(), *_running(), _alerts(),
            *drill_recovery_metrics()]


def _failures() -> list[Family]:
    failed = counter("lifeboat_backup_failures", "Backup runs that failed or were abandoned.", ("database",))
    for name, n in (Database.objects.annotate(n=Count("runs", filter=Q(runs__status__in=["failed", "abandoned"])))
                    .values_list("name", "n")):
        failed.add((name,), n)
    uploads = counter("lifeboat_upload_failures", "Copies that could not be stored in a tier.", PAIR)
    for database, tier, n in (Artifact.objects.filter(status=Artifact.Status.FAILED)
                              .values_list("run__database__name", "tier__name").annotate(n=Count("pk"))):
        uploads.add((database, tier), n)
    verifications = counter("lifeboat_verification_failures", "Restore tests that failed.", PAIR)
    for database, tier, n in (Verification.objects.filter(status=Verification.Status.FAILED)
                              .values_list("artifact__run__database__name", "artifact__tier__name")
                              .annotate(n=Count("pk"))):
        verifications.add((database, tier), n)
    return [failed, uploads, verifications]


def _running() -> list[Family]:
    backups = gauge("lifeboat_backup_running", "Backups of a database queued or running.", ("database",))
    active = dict(BackupRun.objects.active().values_list("database__name").annotate(n=Count("pk")))
    for name in Database.objects.values_list("name", flat=True):
        backups.add((name,), active.get(name, 0))
    jobs = gauge("lifeboat_jobs_running", "Jobs queued or running, by kind.", ("kind",))
    jobs.add(("backup",), sum(active.values()))
    jobs.add(("verification",), Verification.objects.filter(status__in=["queued", "running"]).count())
    jobs.add(("restore",), Restore.objects.filter(status__in=["queued", "running"]).count())
    return [backups, jobs]


def _alerts() -> Family:
    family = gauge("lifeboat_alerts_open", "Open alerts, by kind and severity.", ("kind", "severity"))
    for kind, severity, n in Alert.objects.open().values_list("kind", "severity").annotate(n=Count("pk")):
        family.add((kind, severity), n)
    return family


def drill_recovery_metrics() -> list[Family]:
    """Measured recovery time (declared to data validated) of each scenario's latest completed real drill."""
    from drills.models import Drill

    family = gauge("lifeboat_drill_recovery_seconds",
                   "Measured recovery time of the latest completed real drill of a scenario.", ("scenario",))
    seen: set[int] = set()
    drills = (Drill.objects.real().completed().filter(recovery_seconds__isnull=False)
              .select_related("scenario").order_by("-completed_at"))
    for drill in drills:
        if drill.scenario_id not in seen:
            seen.add(drill.scenario_id)
            family.add((str(drill.scenario),), drill.recovery_seconds)
    return [family]


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _escape_value(text: str) -> str:
    if "\\" not in text and "\n" not in text and '"' not in text:
        return text  # names of databases and tiers never need it
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def exposition(found: list[Family]) -> str:
    """The Prometheus text format (version 0.0.4), as prometheus_client.generate_latest writes it: HELP and TYPE
    lines, then one line per sample with its labels sorted by name and its value as Go formats a float.

    A pair's labels are the same in five families and many values repeat (0, 1, sizes, RPOs): each is formatted
    once per scrape."""
    out: list[str] = []
    label_texts: dict[tuple, str] = {}
    numbers: dict[float, str] = {}
    for family in found:
        name = f"{family.name}_total" if family.type == "counter" else family.name
        out.append(f"# HELP {name} {_escape_help(family.help)}\n# TYPE {name} {family.type}\n")
        order = sorted(range(len(family.labels)), key=family.labels.__getitem__)
        keys = tuple(family.labels[i] for i in order)
        for values, value in family.samples:
            if value == 0:  # the commonest value; kept apart, as -0.0 == 0.0 would share its text
                number = floatToGoString(value)
            elif (number := numbers.get(value)) is None:
                number = numbers[value] = floatToGoString(value)
            if not keys:
                out.append(f"{name} {number}\n")
                continue
            if (labels := label_texts.get((keys, values))) is None:
                labels = label_texts[keys, values] = ",".join(
                    f'{key}="{_escape_value(values[i])}"' for key, i in zip(keys, order, strict=True))
            out.append(f"{name}{{{labels}}} {number}\n")
    return "".join(out)


def _as_metric(family: Family) -> Metric:
    kind = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
    metric = kind(family.name, family.help, labels=list(family.labels))
    for values, value in family.samples:
        metric.add_metric(list(values), value)
    return metric


class LifeboatCollector(Collector):
    """The same families for prometheus-client (a registry, its parsers, its generate_latest)."""

    def collect(self) -> Iterator[Metric]:
        for family in families():
            yield _as_metric(family)


registry = CollectorRegistry(auto_describe=False)
registry.register(LifeboatCollector())
