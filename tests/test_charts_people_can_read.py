"""Charts people can read: units scaled to the data, times on short time axes, an empty state without axes,
failed runs marked, and a recovery-time chart scaled to the data with its target line still visible."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.urls import reverse

from backups.models import BackupRun, Database
from core.charts import time_series_svg
from drills.models import Drill
from tests.drill_helpers import make_drill
from tests.helpers import chart_svgs

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def test_ten_kilobyte_backups_are_drawn_in_kib_not_as_zero_mib(client, dba):
    database = Database.objects.create(name="tiny", dbname="tiny")
    for hour in range(11):
        at = DAY + timedelta(hours=hour)
        BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, created_at=at,
                                 started_at=at, finished_at=at + timedelta(seconds=2), size_bytes=10_000 + hour)
    client.force_login(dba)

    page = client.get(reverse("backups:database_detail", args=["tiny"])).content.decode()

    svg = chart_svgs(page)[0]
    assert "0.0 MiB" not in svg and "KiB" in svg


def test_points_within_a_day_show_their_times():
    points = [(DAY + timedelta(hours=h), float(h)) for h in (1, 5, 9, 13)]

    svg = time_series_svg("t", {"s": points}, quantity="seconds")

    assert re.search(r">\d\d-\d\d \d\d:\d\d<", svg) or re.search(r">\d\d:\d\d<", svg)


def test_an_empty_history_draws_an_empty_state_without_axes(client, dba):
    Database.objects.create(name="fresh", dbname="fresh")
    client.force_login(dba)

    page = client.get(reverse("backups:database_detail", args=["fresh"])).content.decode()

    assert "<svg" not in page and "1970" not in page
    assert page.count('class="chart-empty"') == 3


def test_failed_runs_are_marked(client, dba):
    database = Database.objects.create(name="flaky", dbname="flaky")
    for hour, status in ((1, "succeeded"), (2, "failed"), (3, "succeeded")):
        at = DAY + timedelta(hours=hour)
        BackupRun.objects.create(database=database, status=status, created_at=at, started_at=at,
                                 finished_at=at + timedelta(seconds=5), size_bytes=5_000_000)
    client.force_login(dba)

    page = client.get(reverse("backups:database_detail", args=["flaky"])).content.decode()

    assert "failed run" in chart_svgs(page)[0]


def test_a_short_drill_on_a_long_rto_is_drawn_in_seconds_with_the_target_visible(client, team_lead, dba):
    drill = make_drill(team_lead, dba, scenario="server-failure")
    Drill.objects.filter(pk=drill.pk).update(recovery_seconds=2.5, validated_at=DAY, completed_at=DAY,
                                             started_at=DAY)
    client.force_login(dba)

    page = client.get(reverse("drills:history")).content.decode()

    svg = chart_svgs(page)[0]
    assert "seconds" in svg and "RTO" in svg
    assert "2.5 s" in svg
