"""Admin pieces every app shares (core registers no models of its own)."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records of what happened (audit events, alerts, deliveries, sign-offs, evidence): shown, never added,
    changed or deleted through the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
