"""The alerts page, a channel's test button, /metrics (bearer token) and /healthz (public, on purpose)."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST

from alerts import delivery, metrics
from alerts.models import Alert, Channel, Heartbeat, Notification
from core.http import back_to
from core.roles import SEND_TEST_ALERT

HISTORY_PAGE_SIZE = 50


@login_required
@permission_required("alerts.view_alert", raise_exception=True)
def alert_list(request):
    history = Paginator(Alert.objects.resolved().select_related("database", "tier"), HISTORY_PAGE_SIZE)
    context = {
        "open_alerts": Alert.objects.open().select_related("database", "tier"),
        "history": history.get_page(request.GET.get("page")),
        "notifications": Notification.objects.select_related("channel")[:20],
        "channels": Channel.objects.all(),
    }
    template = "alerts/alert_list.html#open-alerts" if request.htmx else "alerts/alert_list.html"
    return render(request, template, context)


@login_required
@permission_required("alerts.view_alert", raise_exception=True)
def alert_detail(request, pk: int):
    alert = get_object_or_404(Alert.objects.select_related("database", "tier"), pk=pk)
    events = alert.events.prefetch_related("notifications__channel")
    return render(request, "alerts/alert_detail.html", {"alert": alert, "events": events})


@login_required
@require_POST
@permission_required(SEND_TEST_ALERT, raise_exception=True)
def send_test(request, channel_id: int):
    channel = get_object_or_404(Channel, pk=channel_id)
    notification = delivery.send_test(channel, request.user)
    notification.refresh_from_db()
    level = messages.ERROR if notification.status == Notification.Status.FAILED or notification.last_error else (
        messages.INFO)
    state = notification.get_status_display().lower()
    detail = f": {notification.last_error}" if notification.last_error else ""
    messages.add_message(request, level, f"Test notification to {channel.name}: {state}{detail}")
    return back_to(request, "alerts:list")


def _bearer_ok(request) -> bool:
    expected = settings.LIFEBOAT_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if not expected or not given.startswith("Bearer "):
        return False  # no token configured means nobody may scrape: /metrics is never open
    return hmac.compare_digest(given.removeprefix("Bearer ").strip().encode(), expected.encode())


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format, for a scraper holding LIFEBOAT_METRICS_TOKEN (`authorization: Bearer ...`)."""
    if not _bearer_ok(request):
        response = HttpResponse("A bearer token is required (LIFEBOAT_METRICS_TOKEN).\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="lifeboat-metrics"'
        return response
    # Written directly (alerts/metrics.py): the same text prometheus-client's generate_latest(metrics.registry) gives.
    return HttpResponse(metrics.exposition(metrics.families()), content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_GET
def healthz(request):
    """For load balancers, without sign-in: 200 when the database answers and the qcluster beat recently.

    It says only ok/failing per part, never an error text or a version, because anyone may call it.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
        age = Heartbeat.age("qcluster", timezone.now())
        fresh = age is not None and age <= timedelta(seconds=settings.LIFEBOAT_HEALTHZ_MAX_AGE)
        checks["cluster"] = "ok" if fresh else "no recent heartbeat"
    except Exception:  # an unreachable database is exactly what this endpoint reports
        checks.setdefault("database", "unreachable")
        checks.setdefault("cluster", "unknown")
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "failing", **checks}, status=200 if healthy else 503)
