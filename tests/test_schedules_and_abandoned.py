from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone
from django_q.models import Schedule

from backups.models import BackupRun, Database
from backups.reaper import reap
from backups.schedules import sync_all


def test_each_database_gets_a_cron_schedule_at_0200_utc_by_default(db):
    database = Database.objects.create(name="dsa", dbname="dsa_learning")
    schedule = Schedule.objects.get(name="backup:dsa")
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "0 2 * * *"
    assert schedule.func == "backups.tasks.scheduled_backup" and schedule.args == repr((database.pk,))

    database.schedule = "15 3 * * *"
    database.save()
    assert Schedule.objects.get(name="backup:dsa").cron == "15 3 * * *"
    assert Schedule.objects.filter(name="backup:dsa").count() == 1


def test_disabled_or_deleted_database_has_no_schedule(db):
    database = Database.objects.create(name="dsa", dbname="dsa_learning")
    database.enabled = False
    database.save()
    assert not Schedule.objects.filter(name="backup:dsa").exists()
    database.enabled = True
    database.save()
    database.delete()
    assert not Schedule.objects.filter(name="backup:dsa").exists()


def test_sync_all_registers_housekeeping_and_drops_orphans(db):
    Schedule.objects.create(name="backup:ghost", func="backups.tasks.scheduled_backup",
                            schedule_type=Schedule.CRON, cron="0 2 * * *")
    sync_all()
    sync_all()
    assert not Schedule.objects.filter(name="backup:ghost").exists()
    assert Schedule.objects.filter(name="lifeboat:mark-abandoned").count() == 1


def test_a_run_whose_worker_died_is_marked_abandoned(db):
    database = Database.objects.create(name="dsa", dbname="dsa_learning")
    with time_machine.travel("2026-11-24 02:00:00+00:00", tick=False):
        run = BackupRun.objects.create(database=database, status=BackupRun.Status.RUNNING,
                                       started_at=timezone.now(), heartbeat_at=timezone.now())
    with time_machine.travel("2026-11-24 02:04:00+00:00", tick=False):
        assert reap().runs == []
    with time_machine.travel("2026-11-24 02:06:00+00:00", tick=False):
        assert [r.pk for r in reap().runs] == [run.pk]
    run.refresh_from_db()
    assert run.status == BackupRun.Status.ABANDONED and "no heartbeat since" in run.error
    # the database can be backed up again
    BackupRun.objects.create(database=database, status=BackupRun.Status.RUNNING,
                             started_at=timezone.now() + timedelta(hours=1))
