import os

from django.apps import AppConfig
from django.db.models.signals import post_migrate

PRIVATE_UMASK = 0o077


class CoreConfig(AppConfig):
    """The bottom layer: roles, settings helpers, job logging, charts, htmx redirects. No models."""

    name = "core"
    verbose_name = "Lifeboat core"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed

        from core.roles import staff_follows_admin_role, sync_roles

        m2m_changed.connect(staff_follows_admin_role, sender=get_user_model().groups.through,
                            dispatch_uid="lifeboat-staff-follows-admin")

        # Backups, globals (role hashes), self-backups, evidence and the audit anchor are nobody else's business:
        # everything this process writes is 0600 in 0700 directories, whichever entry point started it.
        os.umask(PRIVATE_UMASK)

        # After every migrate: permissions of apps added since the groups were made reach their roles.
        post_migrate.connect(lambda **kw: sync_roles(), dispatch_uid="lifeboat-sync-roles", weak=False)

        # Every app's models are loaded (and the apps before this one are ready): the garbage collector that
        # manage.py paused for the start-up runs again (core/startup.py).
        from core import startup

        startup.resume_gc()

