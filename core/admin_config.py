"""Django's admin, with the apps' admin modules discovered when something needs the registrations.

A module of its own: Django picks an app's configuration from its apps.py only when that module holds exactly one
(core/apps.py holds CoreConfig).
"""

from __future__ import annotations

from django.contrib.admin.apps import SimpleAdminConfig
from django.core import checks


class AdminConfig(SimpleAdminConfig):
    """Django's admin without discovery at start-up: every app's admin module (and through them Django's auth
    forms, django-otp's, and much of each app) is imported when something needs the registrations, the URL conf
    (dashboard/urls.py calls `admin.autodiscover()`) or the admin's own checks, not by every command."""

    def ready(self) -> None:
        from django.contrib.admin.checks import check_dependencies

        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_admin_app, checks.Tags.admin)


def check_admin_app(app_configs=None, **kwargs):
    """Django's check of every registered ModelAdmin, once they are registered."""
    from django.contrib import admin
    from django.contrib.admin.checks import check_admin_app

    admin.autodiscover()
    return check_admin_app(app_configs, **kwargs)
