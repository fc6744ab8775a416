"""At most N dumps and restores at once per PostgreSQL server (by identity) and per tier; a job that finds its
slots taken waits in the queue, says why on its page, and is queued again when a slot frees."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest.mock import patch

from django.utils import timezone

from audit.models import AuditEvent
from backups import tasks
from backups.engine import pipeline, slots
from backups.models import BackupRun, Database, ServerLimit, SlotLease, Tier


def held_for(database: Database, holder: str = "someone else") -> slots.Held:
    held = slots.acquire(slots.needs_for(database, database.backup_tiers()), holder)
    assert isinstance(held, slots.Held), held
    return held


def test_a_run_waits_while_its_server_is_full_and_says_why(learning_db, local_tier, settings, client, dba):
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    other = held_for(learning_db)
    try:
        run = pipeline.create_queued(learning_db)
        assert tasks.run_queued_backup(run.pk) is None
        run.refresh_from_db()
        assert run.status == BackupRun.Status.QUEUED
        assert run.waiting == (f"waiting: 1 of 1 dump and restore slots on server "
                               f"{learning_db.host}:{learning_db.port} in use")
        client.force_login(dba)
        assert run.waiting in client.get(run.get_absolute_url()).content.decode()
    finally:
        other.release()
    assert tasks.run_queued_backup(run.pk) == run.pk
    run.refresh_from_db()
    assert (run.status, run.waiting) == (BackupRun.Status.SUCCEEDED, "")


def test_the_server_is_known_by_identity_not_by_host_name(learning_db, local_tier, settings, pg_server):
    """127.0.0.1 and localhost are one server: a second alias does not get a second set of slots."""
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    alias = Database.objects.create(name="alias", host="localhost", port=learning_db.port, user=learning_db.user,
                                    dbname=learning_db.dbname)
    other = held_for(learning_db)
    try:
        assert "1 of 1" in slots.acquire(slots.needs_for(alias, alias.backup_tiers()), "alias")
        assert alias.system_identifier == learning_db.system_identifier != ""
    finally:
        other.release()


def test_a_server_limit_in_the_admin_overrides_the_default_and_is_audited(learning_db, local_tier, settings):
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    sysid = slots.server_identity(learning_db)
    ServerLimit.objects.create(system_identifier=sysid, label="primary", max_jobs=2)
    assert AuditEvent.objects.filter(action="config.serverlimit.created").exists()
    first, second = held_for(learning_db, "a"), held_for(learning_db, "b")
    try:
        assert slots.acquire(slots.needs_for(learning_db, []), "c") == \
            "2 of 2 dump and restore slots on server primary in use"
    finally:
        first.release()
        second.release()


def test_a_tier_limit_holds_across_servers(learning_db, local_tier, settings):
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 0
    settings.LIFEBOAT_MAX_JOBS_PER_TIER = 1
    other = held_for(learning_db)
    try:
        assert slots.acquire(slots.needs_for(learning_db, [local_tier]), "x") == "1 of 1 slots of tier local in use"
    finally:
        other.release()
    assert not SlotLease.objects.exists()


def test_a_dead_workers_lease_frees_when_its_heartbeat_is_stale(learning_db, local_tier, settings):
    """SQLite (one host): a killed worker leaves its row; it counts as free once its heartbeat is stale."""
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    sysid = slots.server_identity(learning_db)
    stale = timedelta(seconds=settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS)
    SlotLease.objects.create(scope=f"server:{sysid}", slot=0, holder="backup run #999",
                             heartbeat_at=timezone.now() - stale / 2)
    assert isinstance(slots.acquire(slots.needs_for(learning_db, []), "x"), str)
    SlotLease.objects.update(heartbeat_at=timezone.now() - stale - timedelta(seconds=1))
    held = slots.acquire(slots.needs_for(learning_db, []), "x")
    assert isinstance(held, slots.Held)
    held.release()


def test_a_waiting_run_is_queued_again_when_a_slot_frees(learning_db, local_tier, settings, tasks_inline):
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    other = held_for(learning_db)
    run = pipeline.queue_backup(learning_db)  # handed to the (inline) worker: it finds the server full
    run.refresh_from_db()
    assert run.status == BackupRun.Status.QUEUED and run.waiting
    with other:
        pass  # the other job ends: its slot is released and the oldest waiting job of the server is queued again
    run.refresh_from_db()
    assert run.status == BackupRun.Status.SUCCEEDED


def test_waiting_runs_are_kept_alive_and_requeued_every_minute(learning_db, local_tier, settings, tasks_inline):
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    other = held_for(learning_db)
    run = pipeline.queue_backup(learning_db)
    BackupRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert tasks.requeue_waiting() == 1  # still full: waits again, with a fresh heartbeat (the reaper leaves it)
    run.refresh_from_db()
    assert run.status == BackupRun.Status.QUEUED and run.heartbeat_at > timezone.now() - timedelta(minutes=1)
    other.release()
    tasks.requeue_waiting()
    run.refresh_from_db()
    assert run.status == BackupRun.Status.SUCCEEDED


def test_advisory_lock_slots_die_with_their_connection(pg_server, make_source_db):
    """PostgreSQL: a slot is an advisory lock on a connection of its own; a host that dies frees it at once."""
    name = make_source_db(prefix="lbt_slots")
    need = slots.Need(f"server:test-{name}", 1, "slots")
    first = slots.Held("first", conn=pg_server.connect(name))
    second = slots.Held("second", conn=pg_server.connect(name))
    try:
        assert first.take(need)
        assert not second.take(need)
        pid = first.conn.info.backend_pid
        first.conn.close()  # the worker's host is gone: its session ends (the server notices a moment later)
        deadline = time.monotonic() + 30
        while pg_server.query("postgres", "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)):
            assert time.monotonic() < deadline, "the closed session never ended"
            time.sleep(0.05)
        assert second.take(need)
        held = pg_server.query(name, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                                     "(SELECT oid FROM pg_database WHERE datname = current_database())")
        assert held == [(1,)]
    finally:
        second.release()
        first.release()


def test_slot_keys_are_distinct_per_scope_and_slot():
    keys = {slots.slot_key(f"server:{s}", n) for s in ("a", "b") for n in range(50)}
    assert len(keys) == 100
    assert all(-(2 ** 63) <= k < 2 ** 63 for k in keys)


def test_the_reaper_leaves_a_waiting_run_while_the_sweep_keeps_it(learning_db, settings):
    from backups.reaper import reap

    settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS = 5
    now = timezone.now()
    run = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.QUEUED, waiting="waiting: full",
                                   heartbeat_at=now - timedelta(seconds=60), created_at=now - timedelta(hours=1))
    assert reap(now).runs == []
    BackupRun.objects.filter(pk=run.pk).update(heartbeat_at=now - timedelta(seconds=slots.WAITING_STALE_SECONDS + 1))
    assert [r.pk for r in reap(now).runs] == [run.pk]


def test_a_restore_waits_for_its_servers_slot_and_says_why(learning_db, local_tier, settings, tasks_inline,
                                                           pg_server, client, dba):
    from backups.models import Restore

    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    target = f"{learning_db.dbname}_w"
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    other = held_for(learning_db)
    try:
        record = tasks.queue_restore(run.artifacts.get(), target)
        record.refresh_from_db()
        assert record.status == Restore.Status.QUEUED
        assert record.waiting.startswith("waiting: 1 of 1 dump and restore slots on server")
        client.force_login(dba)
        assert record.waiting in client.get(run.get_absolute_url()).content.decode()
        with other:
            pass  # the other job ends: the restore is queued again and runs
        record.refresh_from_db()
        assert (record.status, record.waiting) == (Restore.Status.SUCCEEDED, ""), record.error
    finally:
        other.release()
        pg_server.drop_database(target)


def test_a_verification_is_a_restore_on_its_server_it_waits_for_a_slot_and_says_why(
        learning_db, local_tier, settings, tasks_inline, client, dba):
    """A verification restores into a scratch database on the database's own server (no LIFEBOAT_VERIFY_DSN): it
    takes one of that server's slots like any restore, waits while they are taken, and runs once one frees."""
    from backups.models import Verification

    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    other = held_for(learning_db)
    try:
        record = tasks.queue_verification(run.artifacts.get())  # handed to the (inline) worker: the server is full
        record.refresh_from_db()
        assert (record.status, record.started_at) == (Verification.Status.QUEUED, None)
        assert record.waiting == (f"waiting: 1 of 1 dump and restore slots on server "
                                  f"{learning_db.host}:{learning_db.port} in use")
        assert record.server_system_identifier == learning_db.system_identifier != ""
        client.force_login(dba)
        assert record.waiting in client.get(run.get_absolute_url()).content.decode()
        assert f"verification #{record.pk}" in client.get("/backups/queue/").content.decode()
        with other:
            pass  # the backup that held the slot ends: the waiting verification is queued again and runs
        record.refresh_from_db()
        assert (record.status, record.waiting) == (Verification.Status.PASSED, ""), record.error
    finally:
        other.release()
    assert not SlotLease.objects.exists()  # released when it ended


def test_a_verification_waits_for_the_tier_it_reads(learning_db, local_tier, settings, tasks_inline):
    from backups.models import Verification

    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 0
    settings.LIFEBOAT_MAX_JOBS_PER_TIER = 1
    other = held_for(learning_db)
    try:
        record = tasks.queue_verification(run.artifacts.get())
        record.refresh_from_db()
        assert (record.status, record.waiting) == (Verification.Status.QUEUED,
                                                   "waiting: 1 of 1 slots of tier local in use")
    finally:
        other.release()
    assert tasks.requeue_waiting() == 1  # a tier's waiters are swept every minute
    record.refresh_from_db()
    assert record.status == Verification.Status.PASSED, record.error


def test_a_verification_handed_to_two_workers_runs_once(learning_db, local_tier, settings):
    from backups.models import Verification

    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    record = Verification.objects.create(artifact=run.artifacts.get())
    assert tasks.verify_artifact(record.artifact_id, record.pk) == Verification.Status.PASSED
    assert tasks.verify_artifact(record.artifact_id, record.pk) == "not queued"  # the sweep's copy of the task
    assert Verification.objects.filter(artifact=record.artifact).count() == 1


def test_the_minute_sweep_queues_the_oldest_few_of_each_server_and_keeps_every_waiter_alive(db, settings):
    """A thousand waiters on one server (the weekly re-verification of a fleet, a window's backups) would each be
    queued again every minute to find the server full: only the oldest few per server are, every waiter's
    heartbeat is kept, and another server's waiter is not starved behind them."""
    from backups.models import Verification

    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    long_ago = timezone.now() - timedelta(hours=1)
    busy = [Database.objects.create(name=f"busy{i}", dbname=f"busy{i}", system_identifier="7300000000000000001")
            for i in range(8)]
    calm = Database.objects.create(name="calm", dbname="calm", system_identifier="7300000000000000002")
    runs = [BackupRun.objects.create(database=d, status=BackupRun.Status.QUEUED, waiting="waiting: full",
                                     heartbeat_at=long_ago, created_at=long_ago + timedelta(seconds=i))
            for i, d in enumerate([*busy, calm])]
    done = BackupRun.objects.create(database=calm, status=BackupRun.Status.SUCCEEDED)
    copy = done.artifacts.create(tier=Tier.objects.get(name="local"), location="/x", size_bytes=1)
    checks = [Verification.objects.create(artifact=copy, waiting="waiting: full", heartbeat_at=long_ago,
                                          server_system_identifier="7300000000000000001") for _ in range(5)]
    queued: list[tuple] = []
    with patch("django_q.tasks.async_task", lambda *args, **kwargs: queued.append(args)):
        assert tasks.requeue_waiting() == 2 + 1 + 2  # the limit twice per server and kind, the calm server's one

    again = [args[1] for args in queued if args[0] == "backups.tasks.run_queued_backup"]
    assert sorted(again) == sorted([runs[0].pk, runs[1].pk, runs[-1].pk])  # the busy server's oldest, the calm one
    assert sorted(args[2] for args in queued if args[0] == "backups.tasks.verify_artifact") == \
        sorted(c.pk for c in checks[:2])
    fresh = timezone.now() - timedelta(minutes=1)
    assert all(r.heartbeat_at > fresh for r in BackupRun.objects.filter(status=BackupRun.Status.QUEUED))
    assert all(v.heartbeat_at > fresh for v in Verification.objects.all())


def test_a_negative_limit_fails_loudly_at_start():
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_MAX_JOBS_PER_SERVER": "-1"}
    proc = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert "LIFEBOAT_MAX_JOBS_PER_SERVER=-1 is negative (0 means no limit)" in proc.stderr
