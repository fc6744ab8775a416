"""Scenarios, contacts and checklists are configuration an Admin edits here. Drills are shown, and are read-only
once signed off (the models refuse the change too; this only stops the admin from offering it)."""

from __future__ import annotations

from django.contrib import admin

from audit import config_audit, trail
from core.admin import ReadOnlyAdmin
from drills.models import (
    ChecklistItem,
    ChecklistTemplate,
    Contact,
    Drill,
    DrillNote,
    DrillStep,
    FollowUp,
    Participant,
    Scenario,
    SignOff,
)


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "priority", "rto_label", "rpo_label", "operation", "runbook_version", "updated_at")
    list_filter = ("priority", "operation")
    search_fields = ("name", "summary", "runbook")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("runbook_version", "updated_at")

    def save_model(self, request, obj: Scenario, form, change: bool) -> None:
        # A changed runbook is a new version: drills record the version they rehearsed.
        if change and "runbook" in form.changed_data:
            obj.runbook_version += 1
        super().save_model(request, obj, form, change)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("escalation_order", "role", "name", "email", "phone", "on_call")
    list_display_links = ("role", "name")
    list_editable = ("escalation_order", "on_call")
    list_filter = ("on_call",)
    search_fields = ("role", "name", "email")


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 1
    fields = ("position", "text", "automation")


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "max_recovery_minutes", "require_full_integrity")
    inlines = [ChecklistItemInline]


class LockedInline(admin.TabularInline):
    """Inlines of a drill: no adding, changing or deleting once the drill is signed."""

    extra = 0

    def _open(self, obj) -> bool:
        return obj is None or not obj.is_signed

    def has_add_permission(self, request, obj=None) -> bool:
        return self._open(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._open(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._open(obj) and super().has_delete_permission(request, obj)


class ParticipantInline(LockedInline):
    model = Participant


class DrillStepInline(LockedInline):
    model = DrillStep
    fields = ("position", "text", "status", "ticked_by", "finished_at", "notes")


class FollowUpInline(LockedInline):
    model = FollowUp


class DrillNoteInline(admin.TabularInline):
    model = DrillNote
    extra = 0
    readonly_fields = ("created_at", "author", "text", "after_sign_off")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # notes are added from the drill page, with an audit event


@admin.register(Drill)
class DrillAdmin(admin.ModelAdmin):
    list_display = ("__str__", "planned_at", "status_label", "simulated", "database", "recovery_seconds")
    list_filter = ("simulated", "scenario", "database")
    date_hierarchy = "planned_at"
    inlines = [ParticipantInline, DrillStepInline, FollowUpInline, DrillNoteInline]
    readonly_fields = ("restore", "restored_database", "restored_dropped_at", "restore_seconds", "recovery_seconds",
                       "backup_age_seconds", "validated_at", "integrity", "integrity_ok", "created_at")

    @admin.display(description="status")
    def status_label(self, drill: Drill) -> str:
        return drill.status_label()

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_signed:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        before = config_audit.snapshot(Drill._base_manager.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        config_audit.record_admin_edit(obj, before)

    def delete_model(self, request, obj) -> None:
        trail.record("config.drill.deleted", target=obj, summary=f"drill {obj} deleted in the admin",
                     details={"before": config_audit.snapshot(obj), "after": None, "via": "admin"})
        super().delete_model(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_signed:
            return False
        return super().has_delete_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return False  # drills are scheduled from the drills page, which copies targets and writes the audit event


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ("drill", "signed_by", "signed_at", "record_sha256")
    readonly_fields = [f.name for f in SignOff._meta.fields]
