from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone

from alerts.models import Alert
from backups.catalog.single_point import single_point_of_failure
from backups.models import Feature, Tier
from backups.web import fleet, overview, queue
from dashboard import safety
from drills.health import next_drill_due

OPEN_ALERTS = 20


@login_required
@permission_required("backups.view_backuprun", raise_exception=True)
def home(request):
    """The overview: are we safe right now? Its parts refresh themselves (htmx polling of named partials)."""
    now = timezone.now()
    tiers = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS).order_by("position", "name"))
    rows = overview.cell_states(overview.freshness_matrix(tiers, now))
    alerts = list(Alert.objects.open().select_related(None).order_by("-opened_at")[:OPEN_ALERTS])
    context = {"now": now, "tiers": tiers, "rows": rows, "verdict": safety.verdict(rows, tiers, alerts, now),
               "running": overview.running_runs(), "failures": overview.recent_failures(),
               # The scheduler's own next runs (one query), not croniter over every database (1 s at 1,000).
               "next_runs": [(n.at, n.database) for n in queue.next_runs(5) if n.database is not None],
               "next_drill": next_drill_due(now), "single_point": single_point_of_failure(tiers),
               "verification_beside": overview.verification_beside_protected(rows),
               # What the matrix shows of a large fleet: grouped, filtered, one page (backups/web/fleet.py).
               "fleet": fleet.fleet_page(rows, fleet.FleetQuery.from_query(request.GET))}
    partial = request.GET.get("part") if request.htmx else None
    template = f"dashboard/home.html#{partial}" if partial in ("matrix", "live") else "dashboard/home.html"
    return render(request, template, context)


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: answer with the icon, not a 404 on every page."""
    return redirect(static("favicon.svg"), permanent=True)
