"""The audit trail, read-only, with filters: who did what, when, to which object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import render
from django.utils.http import urlencode

from audit.details import detail_table
from audit.models import AuditEvent
from core.days import PeriodError, end_of, parse_day, start_of

PAGE_SIZE = 100


@dataclass
class AuditFilters:
    action: str = ""  # a prefix: "config." or "backup.failed"
    actor: str = ""
    since: date | None = None
    until: date | None = None
    error: str = ""

    @classmethod
    def from_query(cls, query) -> AuditFilters:
        filters = cls(action=query.get("action", "").strip(), actor=query.get("actor", "").strip())
        try:
            filters.since = parse_day(query["since"], "From") if query.get("since") else None
            filters.until = parse_day(query["until"], "Until") if query.get("until") else None
        except PeriodError as exc:
            filters.error = str(exc)
        return filters

    def apply(self, events: QuerySet) -> QuerySet:
        if self.action:
            events = events.filter(action__startswith=self.action)
        if self.actor:
            events = events.filter(actor=self.actor)
        if self.since:
            events = events.filter(created_at__gte=start_of(self.since))
        if self.until:
            events = events.filter(created_at__lt=end_of(self.until))
        return events

    @property
    def querystring(self) -> str:
        return urlencode({k: v for k, v in (("action", self.action), ("actor", self.actor),
                                            ("since", self.since or ""), ("until", self.until or "")) if v})


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def audit_list(request):
    filters = AuditFilters.from_query(request.GET)
    # Newest first; the primary key orders the chain, so it orders the page too.
    page = Paginator(filters.apply(AuditEvent.objects.order_by("-id")), PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.detail_table = detail_table(event.details)
    context = {"page": page, "filters": filters,
               "areas": ("auth.", "backup.", "verification.", "restore.", "config.", "evidence.", "audit.")}
    template = "audit/audit_list.html#events" if request.htmx else "audit/audit_list.html"
    return render(request, template, context)
