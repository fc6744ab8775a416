"""Keep what is derived from the records in step, however they were edited (admin, CLI, shell): django-q2's
schedules with the databases, each copy's verdict column with its verifications."""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backups.models import Artifact, BackupRun, Database, Verification, refresh_verdicts
from backups.schedules import remove_database_schedule, sync_database_schedule
from backups.signals import backup_finished


@receiver(post_save, sender=Database, dispatch_uid="lifeboat-sync-schedule")
def _database_saved(sender, instance: Database, raw: bool = False, **kwargs) -> None:
    if not raw:
        sync_database_schedule(instance)


@receiver(post_delete, sender=Database, dispatch_uid="lifeboat-remove-schedule")
def _database_deleted(sender, instance: Database, **kwargs) -> None:
    remove_database_schedule(instance)


@receiver(post_save, sender=Verification, dispatch_uid="lifeboat-verdict-on-save")
@receiver(post_delete, sender=Verification, dispatch_uid="lifeboat-verdict-on-delete")
def _verification_changed(sender, instance: Verification, raw: bool = False, **kwargs) -> None:
    """Keep the copy's verdict column in step with its newest decided verification (one UPDATE)."""
    if not raw:
        refresh_verdicts(Artifact.objects.filter(pk=instance.artifact_id))


@receiver(backup_finished, dispatch_uid="lifeboat-verify-after-backup")
def _verify_new_backup(sender, run: BackupRun, **kwargs) -> None:
    """Every successful backup is proven: queue a verification of its first copy (local when there is one)."""
    if run.status != BackupRun.Status.SUCCEEDED or not settings.LIFEBOAT_VERIFY_AFTER_BACKUP:
        return
    from backups.tasks import queue_verification

    copies = sorted(run.artifacts.live().select_related("tier", "run__database"),
                    key=lambda a: a.tier.nearness)
    if copies:
        queue_verification(copies[0])


@receiver(backup_finished, dispatch_uid="lifeboat-self-backup-after-scheduled-run")
def _self_backup_after_scheduled_run(sender, run: BackupRun, **kwargs) -> None:
    """On SQLite, a copy of the dashboard follows every scheduled run (on PostgreSQL it is a protected database)."""
    from backups.catalog.selfbackup import is_sqlite

    if run.trigger == BackupRun.Trigger.SCHEDULE and settings.LIFEBOAT_SELF_BACKUP and is_sqlite():
        from django_q.tasks import async_task

        async_task("backups.tasks.self_backup", task_name="lifeboat self-backup")
