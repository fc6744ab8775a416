from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The bottom layer: roles, settings helpers, job logging, charts, htmx redirects. No models."""

    name = "core"
    verbose_name = "Lifeboat core"

    def ready(self) -> None:
        from core.roles import sync_roles

        # After every migrate: permissions of apps added since the groups were made reach their roles.
        post_migrate.connect(lambda **kw: sync_roles(), dispatch_uid="lifeboat-sync-roles", weak=False)
