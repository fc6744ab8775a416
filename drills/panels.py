"""The drills app's section of the database page: the plan check (registered in DrillsConfig.ready)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from drills import plan_check


def plan_check_panel(request, database) -> SafeString:
    if not request.user.has_perm("drills.view_scenario"):
        return mark_safe("")
    return mark_safe(render_to_string("drills/partials/plan_check.html",
                                      {"checks": plan_check.for_database(database), "per": "database"}, request))
