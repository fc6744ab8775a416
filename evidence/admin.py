from django.contrib import admin

from core.admin import ReadOnlyAdmin
from evidence.models import EvidenceExport, EvidenceSample


@admin.register(EvidenceExport)
class EvidenceExportAdmin(ReadOnlyAdmin):
    """Made from the Evidence page or export_evidence; a record of what auditors took away."""

    list_display = ("id", "since", "until", "requested_by_name", "created_at", "status", "size_bytes", "sha256")
    list_filter = ("status",)


@admin.register(EvidenceSample)
class EvidenceSampleAdmin(ReadOnlyAdmin):
    list_display = ("id", "since", "until", "size", "seed", "population_count", "requested_by_name", "created_at")
