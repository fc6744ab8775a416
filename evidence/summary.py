"""The printable summary.html: controls, scope, monthly counts, exceptions still open, what is left out."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncMonth
from django.template.loader import render_to_string
from django.utils import timezone

from backups.models import BackupRun, Database, Feature, Freshness, Restore, Tier, Verification
from evidence.period import Scope

LIST_LIMIT = 100  # the summary lists this many exceptions of a kind; the CSV files hold all of them


def _by_month(qs, date_field: str) -> dict[tuple[str, str], int]:
    rows = qs.annotate(month=TruncMonth(date_field)).values("month", "status").annotate(n=Count("id")).order_by()
    return {(row["month"].strftime("%Y-%m"), row["status"]): row["n"] for row in rows}


def monthly_counts(scope: Scope) -> list[dict[str, Any]]:
    runs = BackupRun.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    checks = Verification.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    restores = Restore.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.databases:
        runs = runs.filter(database__name__in=scope.databases)
        checks = checks.filter(artifact__run__database__name__in=scope.databases)
        restores = restores.filter(artifact__run__database__name__in=scope.databases)
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (month, status), n in _by_month(runs, "created_at").items():
        table[month]["backups"] += n
        table[month][f"backups_{'failed' if status in ('failed', 'abandoned') else status}"] += n
    for (month, status), n in _by_month(checks, "created_at").items():
        table[month]["verifications"] += n
        table[month][f"verifications_{status}"] += n
    for (month, status), n in _by_month(restores, "created_at").items():
        table[month]["restores"] += n
        table[month][f"restores_{status}"] += n
    return [{"month": month, **counts} for month, counts in sorted(table.items())]


def open_exceptions(scope: Scope) -> list[dict[str, str]]:
    """Failures of the period not yet made good, alerts still open, and databases not fresh right now."""
    found: list[dict[str, str]] = []
    databases = Database.objects.filter(name__in=scope.databases) if scope.databases else Database.objects.all()
    later_good = BackupRun.objects.good().filter(database=OuterRef("database"), created_at__gt=OuterRef("created_at"))
    failed_runs = (BackupRun.objects.filter(database__in=databases, created_at__gte=scope.start,
                                            created_at__lt=scope.end, status__in=("failed", "abandoned"))
                   .exclude(Exists(later_good)).select_related("database").order_by("created_at"))
    for run in failed_runs[:LIST_LIMIT]:
        found.append({"kind": "backup failed, no good backup since", "what": f"run #{run.pk} of {run.database}",
                      "when": run.created_at.isoformat(), "detail": run.error[:200]})
    later_pass = Verification.objects.filter(artifact__run__database=OuterRef("artifact__run__database"),
                                             status="passed", created_at__gt=OuterRef("created_at"))
    failed_checks = (Verification.objects.filter(artifact__run__database__in=databases, status="failed",
                                                 created_at__gte=scope.start, created_at__lt=scope.end)
                     .exclude(Exists(later_pass)).select_related("artifact__run__database").order_by("created_at"))
    for check in failed_checks[:LIST_LIMIT]:
        found.append({"kind": "restore test failed, none passed since",
                      "what": f"verification #{check.pk} of {check.artifact.run.database}",
                      "when": check.created_at.isoformat(), "detail": check.error[:200]})
    from evidence.populations import EXCEPTION_SOURCES  # filled by the apps' population modules at start-up

    for source in EXCEPTION_SOURCES:
        found.extend(source(scope)[:LIST_LIMIT])
    now = timezone.now()
    tiers = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS))
    for database in databases.filter(enabled=True):
        for tier in tiers:
            report = database.freshness(tier, now)
            if report.status in (Freshness.LATE, Freshness.NEVER):
                found.append({"kind": f"not fresh now ({report.label})", "what": f"{database} in {tier}",
                              "when": now.isoformat(), "detail": f"RPO {database.rpo_hours} h"})
    return found


def render_summary(*, scope: Scope, manifest: dict[str, Any], chain: dict[str, Any], controls: dict[str, str],
                   populations: list[dict[str, Any]], policies: list[dict[str, Any]]) -> str:
    from django.utils.safestring import mark_safe

    from evidence.populations import SUMMARY_SECTIONS

    # Each section renders its own template (escaping there), so its HTML is trusted here.
    sections = [(title, mark_safe(render(scope))) for title, render in SUMMARY_SECTIONS.items()]
    return render_to_string("evidence/summary.html", {"sections": sections,
        "scope": scope, "manifest": manifest, "chain": chain, "controls": controls, "populations": populations,
        "months": monthly_counts(scope), "exceptions": open_exceptions(scope), "policies": policies,
    })
