from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard and audit trail"

    def ready(self) -> None:
        from dashboard.roles import sync_roles

        # After every migrate: permissions of apps added since the groups were made reach their roles.
        post_migrate.connect(lambda **kw: sync_roles(), dispatch_uid="lifeboat-sync-roles", weak=False)
