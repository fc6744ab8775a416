"""Storage tiers: the list beside each other, a tier's page (policy, drift, IAM, retention preview, RDS), and the
storage operations a DBA starts from it (each needs backups.manage_storage and is audited)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from backups.errors import LifeboatError
from backups.models import Artifact, Feature, Tier
from backups.retention.preview import RetentionPreview
from backups.storage import bucket_policy, rds
from core.http import back_to
from core.roles import MANAGE_STORAGE

PREVIEW_PAGE = 100


def _tiers_with_totals():
    """Each tier with its live copies' count and bytes, each read off artifact_tier_live_idx alone (it holds the
    sizes): a subquery per tier rather than a GROUP BY over every artifact joined to its tier's row."""
    live = Artifact.objects.live().filter(tier=OuterRef("pk")).order_by().values("tier")
    return (Tier.objects.select_related("retention")
            .annotate(live_copies=Coalesce(Subquery(live.annotate(n=Count("*")).values("n")), 0),
                      live_bytes=Subquery(live.annotate(size=Sum("size_bytes")).values("size"))))


@login_required
@permission_required("backups.view_tier", raise_exception=True)
def tier_list(request):
    tiers = list(_tiers_with_totals())
    rds_status = {t.pk: rds.read_status(t) for t in tiers if t.can(Feature.PROVIDER_BACKUPS) and t.enabled}
    rows = [{"tier": t, "rds": rds_status.get(t.pk), "drift": t.drift_checks.first()} for t in tiers]
    return render(request, "backups/tier_list.html", {"rows": rows})


@login_required
@permission_required("backups.view_tier", raise_exception=True)
def tier_detail(request, pk: int):
    tier = get_object_or_404(_tiers_with_totals(), pk=pk)
    # The counts cover the whole plan; the table one page of it, the deletions first. Planned over the deciding
    # copies only (retention.preview), so the page takes the same few queries at 100 or 100,000 copies.
    plan = RetentionPreview(tier, timezone.now())
    page = Paginator(plan, PREVIEW_PAGE).get_page(request.GET.get("page"))
    context = {
        "tier": tier, "page": page, "preview": page.object_list,
        "total": plan.total, "deletion_count": plan.deletions, "refusal_count": plan.refusals, "now": plan.now,
        "drift": tier.drift_checks.first(),
        "rules": bucket_policy.declared_rules(tier) if tier.can(Feature.BUCKET_POLICY) else [],
        "iam": json.dumps(bucket_policy.iam_policy(tier), indent=2) if tier.can(Feature.BUCKET_POLICY) else "",
        "admin_iam": (json.dumps(bucket_policy.admin_iam_policy(tier), indent=2)
                      if tier.can(Feature.BUCKET_POLICY) else ""),
        "bucket_policy_document": (json.dumps(bucket_policy.declared_policy(tier), indent=2)
                                   if tier.can(Feature.BUCKET_POLICY) else ""),
        "rds": rds.read_status(tier) if tier.can(Feature.PROVIDER_BACKUPS) and tier.enabled else None,
    }
    template = "backups/tier_detail.html#preview" if request.htmx else "backups/tier_detail.html"
    return render(request, template, context)


@login_required
@require_POST
@permission_required(MANAGE_STORAGE, raise_exception=True)
def apply_bucket_policy(request, pk: int):
    tier = get_object_or_404(Tier.objects.that_can(Feature.BUCKET_POLICY), pk=pk)
    try:
        actions = bucket_policy.apply_policy(tier, actor=request.user)
    except LifeboatError as exc:
        messages.error(request, str(exc))
    else:
        check = bucket_policy.check_drift(tier)
        messages.info(request, f"Bucket policy applied ({'; '.join(actions) or 'nothing to change'}); "
                               f"now {check.status}.")
    return back_to(request, tier)


@login_required
@require_POST
@permission_required(MANAGE_STORAGE, raise_exception=True)
def check_drift(request, pk: int):
    tier = get_object_or_404(Tier.objects.that_can(Feature.BUCKET_POLICY), pk=pk)
    try:
        check = bucket_policy.check_drift(tier)
    except LifeboatError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Bucket {tier.bucket}: {check.status}.")
    return back_to(request, tier)


@login_required
@require_POST
@permission_required(MANAGE_STORAGE, raise_exception=True)
def apply_retention(request, pk: int):
    from django_q.tasks import async_task

    tier = get_object_or_404(Tier.objects.that_can(Feature.ARTIFACTS), pk=pk)
    if not tier.enabled:
        messages.error(request, f"Tier {tier.name} is disabled: its retention does not run.")
        return back_to(request, tier)
    async_task("backups.tasks.apply_retention_to_tier", tier.pk, request.user.pk, task_name=f"retention {tier.name}")
    messages.info(request, f"Retention of {tier.name} queued.")
    return back_to(request, tier)


@login_required
@require_POST
@permission_required(MANAGE_STORAGE, raise_exception=True)
def rds_snapshot(request, pk: int):
    tier = get_object_or_404(Tier.objects.that_can(Feature.PROVIDER_BACKUPS), pk=pk)
    try:
        identifier = rds.take_snapshot(tier, actor=request.user)
    except LifeboatError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Snapshot {identifier} of {tier.rds_instance} requested.")
    return back_to(request, tier)
