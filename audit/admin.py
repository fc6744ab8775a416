from django.contrib import admin

from audit.models import AuditEvent
from core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail is append-only, in the admin as everywhere."""

    list_display = ("created_at", "actor", "action", "summary")
    list_filter = ("action", "actor")
    search_fields = ("summary", "actor", "target_id")
    date_hierarchy = "created_at"
