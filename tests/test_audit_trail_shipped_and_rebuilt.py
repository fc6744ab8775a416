"""The audit trail is shipped as it is written and rebuilt after Lifeboat's loss (issue 19).

Closed hours of events go to every S3 tier as sorted JSON-lines segments beside the chain heads; a crash between
an upload and its bookkeeping neither loses nor duplicates one. After the database is lost, the recovery loads
the segments, checks them against their hashes and the heads kept in S3, and discloses the events no segment
holds with ONE `audit.recovery_gap` event, which verify_audit_log reports as disclosed (exit 0). A second gap,
a gap with bounds the heads do not confirm, or an altered event still break the chain. The database is "lost"
as its owner could: the append-only triggers are dropped inside the test's own transaction (rolled back).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from audit import trail
from audit.anchor import SITES
from audit.chain import verify_chain
from audit.models import RECOVERY_GAP, AuditChainHead, AuditEvent, AuditSegment
from audit.segments import SEGMENT_DIR, ship_segments
from audit.tasks import check_audit_chain
from backups.schedules import MAINTENANCE
from tests.helpers import run_command

TABLE = "dashboard_auditevent"


@pytest.fixture
def anchored(settings, tmp_path, s3_tier):
    settings.LIFEBOAT_AUDIT_ANCHOR_PATH = str(tmp_path / "lost-machine" / "anchor.jsonl")
    return s3_tier


HOUR = (timezone.now() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def at(hours: int, minutes: int):
    """A moment after every event the test database already holds: hour `hours` of the test, minute `minutes`."""
    return time_machine.travel(HOUR + timedelta(hours=hours, minutes=minutes), tick=False)


def later(hours: int = 1):
    return HOUR + timedelta(hours=hours, minutes=7)


def keys(client, bucket: str, folder: str) -> list[str]:
    found = client.list_objects_v2(Bucket=bucket, Prefix=f"backups/{folder}/").get("Contents", [])
    return [o["Key"] for o in found]


def body(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def record(n: int, label: str = "work") -> None:
    for i in range(n):
        trail.record(f"test.{label}", summary=f"{label} {i}", details={"i": i})


def lose_the_database(settings) -> None:
    """Everything Lifeboat kept on its own machine is gone: events, head, segment records, the local anchor."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
        cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    AuditEvent.objects.all().delete()
    AuditChainHead.objects.all().delete()
    AuditSegment.objects.all().delete()
    Path(settings.LIFEBOAT_AUDIT_ANCHOR_PATH).unlink(missing_ok=True)


def test_closed_hours_ship_as_sorted_segments_to_every_s3_tier(anchored, moto_s3):
    with at(0, 10):
        record(3)
    first = ship_segments(now=later())
    with at(1, 10):
        record(2, "next-hour")
    again = ship_segments(now=later())  # the same hour: nothing new closes, nothing is put twice
    ship_segments(now=later(2))

    names = keys(moto_s3, anchored.bucket, SEGMENT_DIR)
    assert MAINTENANCE["lifeboat:ship-audit-segments"][0] == "audit.tasks.ship_audit_segments"
    assert len(first.closed) == 1 and first.errors == [] and again.shipped == [] and len(names) == 2
    assert names == sorted(names)
    segments = [body(moto_s3, anchored.bucket, k).splitlines() for k in names]
    headers = [json.loads(lines[0])["segment"] for lines in segments]
    assert headers[0]["first_seq"] == 1 and headers[1]["first_seq"] == headers[0]["last_seq"] + 1
    assert headers[1]["prev_hash"] == headers[0]["last_hash"]
    assert [json.loads(line)["action"] for line in segments[1][1:]] == ["test.next-hour"] * 2
    assert headers[1]["last_hash"] == AuditEvent.objects.order_by("-id").first().hash
    assert sum(h["events"] for h in headers) == AuditEvent.objects.count()


def test_an_open_hour_is_not_shipped(anchored, moto_s3):
    ship_segments(now=HOUR)  # what the test database held before
    before = keys(moto_s3, anchored.bucket, SEGMENT_DIR)
    with at(0, 10):
        record(2)
    report = ship_segments(now=HOUR + timedelta(minutes=30))  # the events' hour is still running
    assert report.closed == [] and keys(moto_s3, anchored.bucket, SEGMENT_DIR) == before


def test_a_clock_set_back_does_not_hold_shipping_up(anchored, moto_s3):
    with at(5, 0):
        record(1, "clock-ahead")  # a worker whose clock ran hours ahead
    with at(0, 10):
        record(2, "clock-back")

    report = ship_segments(now=later())

    lines = body(moto_s3, anchored.bucket, f"backups/{report.closed[-1]}").splitlines()[1:]
    assert [json.loads(line)["action"] for line in lines][-3:] == ["test.clock-ahead"] + ["test.clock-back"] * 2


def test_a_crash_between_upload_and_bookkeeping_loses_and_duplicates_nothing(anchored, moto_s3, monkeypatch):
    with at(0, 10):
        record(3)
    sites = SITES.remote_sites

    class WorkerKilled(Exception):
        pass

    def crashing_sites():
        crashing = []
        for site in sites():
            def put_then_die(path, name, metadata, put=site.put):
                put(path, name, metadata)
                raise WorkerKilled("killed after the upload, before the bookkeeping")
            site.put = put_then_die
            crashing.append(site)
        return crashing

    monkeypatch.setattr(SITES, "remote_sites", crashing_sites)
    crashed = ship_segments(now=later())
    closed_before_the_crash = AuditEvent.objects.count()
    monkeypatch.setattr(SITES, "remote_sites", sites)
    with at(1, 10):
        record(2, "after-the-crash")
    resumed = ship_segments(now=later())

    names = keys(moto_s3, anchored.bucket, SEGMENT_DIR)
    versions = moto_s3.list_object_versions(Bucket=anchored.bucket, Prefix=f"backups/{SEGMENT_DIR}/")["Versions"]
    assert crashed.errors and crashed.shipped == []
    assert len(names) == 1 and len(versions) == 1  # already there: not put again
    assert resumed.closed == [] and resumed.shipped == []  # the hour's events were closed before the crash
    assert AuditSegment.objects.get().events == closed_before_the_crash
    ship_segments(now=later(2))
    headers = [json.loads(body(moto_s3, anchored.bucket, k).splitlines()[0])["segment"]
               for k in keys(moto_s3, anchored.bucket, SEGMENT_DIR)]
    assert [h["first_seq"] for h in headers] == [1, headers[0]["last_seq"] + 1]


def shipped_then_lost(settings, *, unshipped: int = 4) -> dict:
    """A trail shipped to the hour, then events written and anchored off-host but never shipped, then the loss."""
    with at(0, 10):
        record(5)
    ship_segments(now=later())
    shipped = list(AuditEvent.objects.order_by("id").values_list("id", "hash"))
    with at(1, 10):
        record(unshipped, "lost")
        report = check_audit_chain()  # the hourly check puts the head in S3
    assert report.intact
    lose_the_database(settings)
    return {"shipped": shipped, "head": report}


def test_recovery_loads_the_segments_and_discloses_one_gap(anchored, moto_s3, settings):
    story = shipped_then_lost(settings)

    code, out, err = run_command("rebuild_audit_trail", "--tier", anchored.name)

    assert code == 0, err
    assert "4 events after the last shipped one are lost" in out
    rebuilt = list(AuditEvent.objects.order_by("id").values_list("id", "hash"))
    assert rebuilt[:-1] == story["shipped"]
    gap = AuditEvent.objects.get(action=RECOVERY_GAP)
    assert gap.details["from"]["count"] == len(story["shipped"]) and gap.details["missing"] == 4
    assert gap.details["to"]["count"] == story["head"].count
    assert gap.details["to"]["last_hash"] == story["head"].last_hash and "why" not in gap.details
    assert gap.details["reason"]
    code, out, err = run_command("verify_audit_log")
    assert code == 0, err
    n = len(story["shipped"])
    assert f"disclosed recovery gap: events {n + 1}..{n + 4} (4 events)" in out
    # The chain carries on: new events, a new head in S3, still intact with the same disclosed gap.
    with at(2, 10):
        record(2, "after-recovery")
        after = check_audit_chain()
    assert after.intact and len(after.gaps) == 1 and after.count == story["head"].count + 3


def test_a_second_recovery_is_refused_and_a_second_gap_breaks_the_chain(anchored, moto_s3, settings):
    shipped_then_lost(settings)
    run_command("rebuild_audit_trail", "--tier", anchored.name)
    code, _, err = run_command("rebuild_audit_trail", "--tier", anchored.name)
    assert code == 1 and "rebuilt already" in err

    first = AuditEvent.objects.get(action=RECOVERY_GAP)
    head = AuditChainHead.objects.get(pk=1)
    trail.record(RECOVERY_GAP, summary="more lost", details={
        "from": {"count": head.count, "last_hash": head.last_hash}, "to": first.details["to"], "missing": 1})
    code, _, err = run_command("verify_audit_log")
    assert code == 1 and "already discloses a gap" in err


def test_a_gap_whose_bounds_the_s3_heads_do_not_confirm_breaks_the_chain(anchored, moto_s3, settings):
    story = shipped_then_lost(settings)
    run_command("rebuild_audit_trail", "--tier", anchored.name)
    honest = AuditEvent.objects.get(action=RECOVERY_GAP)
    honest_details = honest.details
    AuditEvent.objects.filter(pk=honest.pk).delete()  # forged in its place, with another upper hash
    head = AuditEvent.objects.order_by("-id").first()
    AuditChainHead.objects.update(count=len(story["shipped"]), last_hash=head.hash, last_event_id=head.pk)
    forged = {**honest_details, "to": {**honest_details["to"], "last_hash": "f" * 64}}
    trail.record(RECOVERY_GAP, summary="forged", details=forged)
    AuditChainHead.objects.update(count=story["head"].count + 1)

    code, _, err = run_command("verify_audit_log")

    assert code == 1 and "not an honest recovery gap" in err and "is not the head kept" in err


def test_an_event_altered_after_the_recovery_still_breaks_the_chain(anchored, moto_s3, settings):
    shipped_then_lost(settings)
    run_command("rebuild_audit_trail", "--tier", anchored.name)
    victim = AuditEvent.objects.filter(action="test.work").first()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET summary = 'nothing happened' WHERE id = %s", [victim.pk])

    code, _, err = run_command("verify_audit_log")

    assert code == 1 and f"event #{victim.pk}" in err and "edited" in err


def test_a_segment_altered_in_the_bucket_is_refused_and_nothing_is_loaded(anchored, moto_s3, settings):
    shipped_then_lost(settings)
    key = keys(moto_s3, anchored.bucket, SEGMENT_DIR)[0]
    tampered = body(moto_s3, anchored.bucket, key).replace(b'"summary":"work 2"', b'"summary":"work 9"')
    moto_s3.put_object(Bucket=anchored.bucket, Key=key, Body=tampered)

    code, _, err = run_command("rebuild_audit_trail", "--tier", anchored.name)

    assert code == 1 and "do not hash to its header" in err
    assert AuditEvent.objects.count() == 0


def test_verify_chain_reports_the_gap_in_its_dict(anchored, moto_s3, settings):
    shipped_then_lost(settings)
    run_command("rebuild_audit_trail", "--tier", anchored.name)
    from audit.anchor import known_anchors

    report = verify_chain(known_anchors())
    assert report.intact and report.as_dict()["gaps"][0]["missing"] == 4


def keep_only_the_first(n: int) -> None:
    """What a restored self-backup holds: the first n events of the chain, and its head there."""
    kept = list(AuditEvent.objects.order_by("id")[:n])
    AuditEvent.objects.filter(id__gt=kept[-1].pk).delete()
    AuditChainHead.objects.update_or_create(pk=1, defaults={"count": n, "last_hash": kept[-1].hash,
                                                             "last_event_id": kept[-1].pk})


def test_a_restored_prefix_is_kept_and_only_what_follows_it_is_loaded(anchored, moto_s3, settings):
    story = shipped_then_lost(settings)
    run_command("rebuild_audit_trail", "--tier", anchored.name)
    AuditSegment.objects.all().delete()
    keep_only_the_first(3)  # as if a self-backup had brought back three events (triggers still lifted)

    code, out, err = run_command("rebuild_audit_trail", "--tier", anchored.name, "--json")

    assert code == 0, err
    report = json.loads(out)
    assert report["had"] == 3 and report["loaded"] == len(story["shipped"]) - 3 and report["missing"] == 4
    assert list(AuditEvent.objects.order_by("id").values_list("id", "hash"))[:-1] == story["shipped"]
    assert AuditSegment.objects.count() == 1  # the segment read is recorded: shipping carries on after it


def test_a_database_whose_trail_is_not_a_prefix_of_the_shipped_one_is_refused(anchored, moto_s3, settings):
    shipped_then_lost(settings)
    record(2, "a-fresh-install")  # a trail of its own, not the one shipped

    code, _, err = run_command("rebuild_audit_trail", "--tier", anchored.name)

    assert code == 1 and "not a prefix of the shipped one" in err
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.a-fresh-install"] * 2
