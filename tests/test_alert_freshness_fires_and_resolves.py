"""The freshness rule fires when time passes the RPO, repeats while it lasts, and resolves after a good backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from alerts import engine
from alerts.models import Alert, AlertEvent, Channel, Kind
from backups.engine import pipeline
from backups.models import BackupRun
from tests.http_receiver import http_receiver

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def texts(receiver) -> list[str]:
    return [r.json()["text"] for r in receiver.requests]


def test_freshness_fires_past_the_rpo_and_resolves_after_a_good_backup(learning_db, local_tier, tasks_inline,
                                                                         settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    settings.LIFEBOAT_ALERT_REPEAT_MINUTES = 240
    learning_db.rpo_hours = 24
    learning_db.save()
    with http_receiver() as receiver:
        Channel.objects.create(name="oncall", url=f"mmost://127.0.0.1:{receiver.port}/oncall", kinds=[Kind.FRESHNESS])
        with time_machine.travel(T0, tick=False):
            assert pipeline.backup(learning_db).status == BackupRun.Status.SUCCEEDED
        with time_machine.travel(T0 + timedelta(hours=23, minutes=59), tick=False):
            assert not engine.evaluate().fired  # inside the RPO: nothing to say
        assert receiver.requests == []

        with time_machine.travel(T0 + timedelta(hours=24, minutes=5), tick=False):
            result = engine.evaluate()
        assert [a.kind for a in result.fired] == [Kind.FRESHNESS]
        assert len(receiver.requests) == 1
        assert f"{learning_db.name} has no fresh backup in local" in texts(receiver)[0]
        assert "24.1 h old (RPO 24 h)" in texts(receiver)[0]

        with time_machine.travel(T0 + timedelta(hours=26), tick=False):
            engine.evaluate()  # still late, but the reminder interval has not passed
        assert len(receiver.requests) == 1
        with time_machine.travel(T0 + timedelta(hours=28, minutes=10), tick=False):
            assert len(engine.evaluate().reminded) == 1
        assert len(receiver.requests) == 2 and "Still failing" in texts(receiver)[1]

        with time_machine.travel(T0 + timedelta(hours=29), tick=False):
            assert pipeline.backup(learning_db).status == BackupRun.Status.SUCCEEDED  # evaluates after the job
        assert len(receiver.requests) == 3 and "Resolved" in texts(receiver)[2]

    alert = Alert.objects.get(kind=Kind.FRESHNESS)
    assert alert.resolved_at == T0 + timedelta(hours=29)
    assert list(alert.events.order_by("created_at").values_list("change", flat=True)) == [
        AlertEvent.Change.FIRED, AlertEvent.Change.REMINDER, AlertEvent.Change.RESOLVED]


def test_a_new_database_without_backups_is_not_late_until_its_rpo_has_passed(learning_db, local_tier, settings):
    created = learning_db.created_at
    with time_machine.travel(created + timedelta(hours=1), tick=False):
        assert not [a for a in engine.evaluate().fired if a.kind == Kind.FRESHNESS]
    with time_machine.travel(created + timedelta(hours=25), tick=False):
        fired = [a for a in engine.evaluate().fired if a.kind == Kind.FRESHNESS]
    assert len(fired) == 1 and "holds no good copy" in fired[0].message
