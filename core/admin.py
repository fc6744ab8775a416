"""Admin pieces every app shares (core registers no models of its own)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from core.roles import signs_in_through_provider


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records of what happened (audit events, alerts, deliveries, sign-offs, evidence): shown, never added,
    changed or deleted through the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class LifeboatUserAdmin(UserAdmin):
    """Admins create users and give them roles; only a superuser may make superusers or grant permissions one
    by one (an Admin who could tick is_superuser would be one)."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions", "is_staff", "last_login", "date_joined"]
        if obj is not None and signs_in_through_provider(obj):
            # The identity provider's groups decide this user's roles at every sign-in (sso/backends.py).
            readonly += ["groups", "username"]
        return readonly

    def get_queryset(self, request):
        users = super().get_queryset(request)
        return users if request.user.is_superuser else users.filter(is_superuser=False)


def use_lifeboat_user_admin() -> None:
    User = get_user_model()
    if admin.site.is_registered(User):
        admin.site.unregister(User)
    admin.site.register(User, LifeboatUserAdmin)


# Importing django.contrib.auth.admin (above) registered Django's UserAdmin; Lifeboat's takes its place whenever
# the admin modules are discovered (core.admin_config.AdminConfig).
use_lifeboat_user_admin()
