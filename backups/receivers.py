"""Keep django-q2's schedules in step with the databases, however they were edited (admin, CLI, shell)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backups.models import Database
from backups.schedules import remove_database_schedule, sync_database_schedule


@receiver(post_save, sender=Database, dispatch_uid="lifeboat-sync-schedule")
def _database_saved(sender, instance: Database, raw: bool = False, **kwargs) -> None:
    if not raw:
        sync_database_schedule(instance)


@receiver(post_delete, sender=Database, dispatch_uid="lifeboat-remove-schedule")
def _database_deleted(sender, instance: Database, **kwargs) -> None:
    remove_database_schedule(instance)
