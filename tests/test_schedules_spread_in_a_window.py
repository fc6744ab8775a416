"""A database may have a window (01:00-05:00 UTC) instead of a fixed minute: Lifeboat places it in the window by a
stable hash of its identity, so the fleet spreads and adding a database moves no other."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from backups.models import Database
from backups.models.windows import placed_cron, placed_minute, validate_window, window_minutes
from backups.schedules import sync_all


def in_window(hour: int, minute: int, start: time, end: time) -> bool:
    offset = (hour * 60 + minute - start.hour * 60 - start.minute) % (24 * 60)
    return offset < window_minutes(start, end)


@pytest.mark.parametrize("start,end", [(time(1), time(5)), (time(22, 30), time(2, 15)), (time(23, 59), time(0, 1))])
def test_every_placed_time_is_inside_its_window(start, end):
    for n in range(500):
        hour, minute = placed_minute(f"database:db{n}", start, end)
        assert in_window(hour, minute, start, end), (n, hour, minute)


def test_a_fleet_spreads_over_the_window():
    minutes = {placed_minute(f"database:db{n}", time(1), time(5)) for n in range(300)}
    assert len(minutes) > 150  # 300 databases over 240 minutes: no single 02:00 stampede


def test_the_crons_days_stay_and_aliases_keep_theirs():
    hour, minute = placed_minute("database:x", time(1), time(5))
    assert placed_cron("0 2 * * 1-5", "database:x", time(1), time(5)) == f"{minute} {hour} * * 1-5"
    assert placed_cron("@weekly", "database:x", time(1), time(5)) == f"{minute} {hour} * * 0"
    assert placed_cron("@daily", "database:x", time(1), time(5)) == f"{minute} {hour} * * *"


@pytest.mark.parametrize("start,end,message", [
    (time(1), None, "both a start and an end"),
    (None, time(5), "both a start and an end"),
    (time(3), time(3), "must differ"),
    (time(1, 0, 30), time(5), "whole minutes"),
])
def test_bad_windows_are_refused_in_one_line(start, end, message):
    with pytest.raises(ValidationError, match=message):
        validate_window(start, end)


def test_a_window_crossing_midnight_is_valid_on_the_model(db):
    database = Database(name="night", dbname="night", window_start=time(22), window_end=time(2), tags="B, a")
    database.full_clean()
    assert database.tags == ",a,b,"
    hour, _ = placed_minute("database:night", time(22), time(2))
    assert hour in (22, 23, 0, 1)


def test_sync_schedules_writes_the_placed_time_and_adding_a_database_moves_no_other(db):
    for n in range(20):
        Database.objects.create(name=f"fleet{n}", dbname=f"fleet{n}", window_start=time(1), window_end=time(5))
    Database.objects.create(name="fixed", dbname="fixed", schedule="30 2 * * *")
    assert sync_all() == []
    before = dict(Schedule.objects.filter(name__startswith="backup:").values_list("name", "cron"))
    assert before["backup:fixed"] == "30 2 * * *"
    assert before["backup:fleet3"] == Database.objects.get(name="fleet3").placed_schedule != "0 2 * * *"
    assert len(set(before.values())) > 15
    Database.objects.create(name="newcomer", dbname="newcomer", window_start=time(1), window_end=time(5))
    sync_all()
    after = dict(Schedule.objects.filter(name__startswith="backup:").values_list("name", "cron"))
    assert {k: v for k, v in after.items() if k != "backup:newcomer"} == before


def test_the_queue_view_shows_what_runs_when_and_what_waits(learning_db, local_tier, settings, client, dba):
    from backups import tasks
    from backups.engine import pipeline, slots

    settings.LIFEBOAT_MAX_JOBS_PER_SERVER = 1
    Database.objects.create(name="windowed", dbname="windowed", window_start=time(1), window_end=time(5))
    sync_all()
    other = slots.acquire(slots.needs_for(learning_db, []), "another job")
    try:
        run = pipeline.create_queued(learning_db)
        tasks.run_queued_backup(run.pk)
    finally:
        other.release()
    client.force_login(dba)
    page = client.get("/backups/queue/").content.decode()
    hour, minute = placed_minute("database:windowed", time(1), time(5))
    assert f"{hour:02d}:{minute:02d}" in page and "window 01:00–05:00" in page
    assert f"backup #{run.pk}" in page and "waiting: 1 of 1 dump and restore slots on server" in page
    assert learning_db.system_identifier in page  # the server's row: its databases, running, waiting, limit
    from backups.web.queue import ServerLoad, server_loads

    assert server_loads() == [ServerLoad(learning_db.system_identifier, learning_db.host, databases=1, running=0,
                                         waiting=1, limit=1)]


def test_the_database_page_shows_its_placed_time_and_tags(client, dba, db):
    database = Database.objects.create(name="placed", dbname="placed", window_start=time(1), window_end=time(5),
                                       tags=",billing,")
    client.force_login(dba)
    page = client.get(database.get_absolute_url()).content.decode()
    assert f"placed in its window 01:00–05:00 at <code>{database.placed_schedule}</code>" in page
    assert '<a href="/?tag=billing">billing</a>' in page
