from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from backups.models import BackupRun, Database, Tier


@login_required
def home(request):
    now = timezone.now()
    tiers = list(Tier.objects.filter(enabled=True))
    rows = [(db, [db.freshness(tier, now) for tier in tiers]) for db in Database.objects.all()]
    recent = BackupRun.objects.select_related("database")[:10]
    return render(request, "dashboard/home.html", {"tiers": tiers, "rows": rows, "recent": recent})
