"""What Lifeboat watches, read only: alerts, drills, and the overview's freshness matrix."""

from __future__ import annotations

from typing import Literal

from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router

from alerts.models import Alert
from api import present
from api.auth import needs
from api.models import Scope
from api.schemas import AlertOut, AlertPage, DrillDetail, DrillPage, FreshnessMatrix
from backups.models import Feature, Tier
from backups.web import overview
from drills.models import Drill

router = Router(tags=["alerts, drills and the overview"])


@router.get("/alerts", response=AlertPage, auth=needs(Scope.READ, "alerts.view_alert"), url_name="alerts")
def list_alerts(request, state: Literal["open", "resolved", "all"] = "open", page: int = 1):
    alerts = Alert.objects.select_related("database", "tier").order_by("-opened_at", "-pk")
    if state == "open":
        alerts = alerts.open()
    elif state == "resolved":
        alerts = alerts.resolved()
    return present.page_of(request, alerts, page, lambda rows: [present.alert(a) for a in rows])


@router.get("/alerts/{alert_id}", response=AlertOut, auth=needs(Scope.READ, "alerts.view_alert"), url_name="alert")
def alert_detail(request, alert_id: int):
    return present.alert(get_object_or_404(Alert.objects.select_related("database", "tier"), pk=alert_id))


DRILLS = needs(Scope.READ, "drills.view_drill")


def _drills():
    return Drill.objects.select_related("scenario", "database", "signoff", "restore__artifact__run").prefetch_related(
        "steps").order_by("-planned_at", "-pk")


@router.get("/drills", response=DrillPage, auth=DRILLS, url_name="drills")
def list_drills(request, page: int = 1):
    return present.page_of(request, _drills(), page, lambda rows: [present.drill(d) for d in rows])


@router.get("/drills/{drill_id}", response=DrillDetail, auth=DRILLS, url_name="drill")
def drill_detail(request, drill_id: int):
    drill = get_object_or_404(_drills(), pk=drill_id)
    return {**present.drill(drill),
            "criteria": [{"name": c.name, "target": c.target, "measured": c.measured, "outcome": c.outcome}
                         for c in drill.criteria()],
            "timeline": [{"at": at, "what": what} for at, what in drill.timeline()]}


@router.get("/overview/freshness", response=FreshnessMatrix, auth=needs(Scope.READ, "backups.view_backuprun"),
            url_name="freshness")
def freshness(request):
    """The overview's matrix: every database in every tier, with what each cell shows."""
    now = timezone.now()
    tiers = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS).order_by("position", "name"))
    rows = overview.cell_states(overview.freshness_matrix(tiers, now))
    return {"generated_at": now, "tiers": [t.name for t in tiers],
            "databases": [{"database": row.database.name, "enabled": row.database.enabled,
                           "failing_since": row.failing.since if row.failing else None,
                           "cells": [present.cell(t.name, c, s)
                                     for t, c, s in zip(tiers, row.cells, row.states, strict=True)]}
                          for row in rows]}
