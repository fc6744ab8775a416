from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from backups import receivers  # noqa: F401  (schedule sync on save/delete)
        from backups.storage import audit_anchor_sites

        audit_anchor_sites.plug_in()  # the audit chain head is also kept in the tiers

        from audit import config_audit
        from backups.models import Artifact

        # A legal hold set or lifted on one copy is a configuration change (tiers' holds are audited as a whole).
        config_audit.register(Artifact, tracked_fields=("legal_hold",))

        # After migrate: the dashboard's own PostgreSQL database becomes a protected database (self-backup).
        post_migrate.connect(_protect_self, sender=self, dispatch_uid="lifeboat-protect-self")
        # After migrate: the maintenance tasks (the reaper first) and every database's backup are scheduled, so an
        # installation that only ever runs `migrate` has them; `sync_schedules` stays as the repair command.
        post_migrate.connect(_register_schedules, sender=self, dispatch_uid="lifeboat-register-schedules")
        # Before migrate changes the schema: a SQLite copy of the dashboard as it was.
        pre_migrate.connect(_self_backup_before_migration, sender=self,
                            dispatch_uid="lifeboat-self-backup-pre-migrate")


def _self_backup_before_migration(**kwargs) -> None:
    # backups.catalog.selfbackup (manifests, encryption, zstd) is imported when migrate runs, not at every start-up.
    from backups.catalog.selfbackup import self_backup_before_migration

    self_backup_before_migration(**kwargs)


def _protect_self(using: str = "default", **kwargs) -> None:
    from backups.catalog.selfbackup import register_self_database

    if using == "default":
        register_self_database()


def _register_schedules(using: str = "default", **kwargs) -> None:
    from backups.schedules import sync_all

    if using == "default":
        sync_all()
