from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard and audit trail"

    def ready(self) -> None:
        from dashboard import config_audit, receivers  # noqa: F401  (sign-ins become audit events)
        from dashboard.roles import sync_roles

        config_audit.connect()  # configuration changes become audit events, before and after

        # After every migrate: permissions of apps added since the groups were made reach their roles.
        post_migrate.connect(lambda **kw: sync_roles(), dispatch_uid="lifeboat-sync-roles", weak=False)
