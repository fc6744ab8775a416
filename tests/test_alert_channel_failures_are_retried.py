"""A channel that answers 500 is retried with backoff and logged, and the backup it reports on stays good."""

from __future__ import annotations

import logging
from datetime import timedelta

import time_machine
from django.utils import timezone

from alerts import delivery
from alerts.models import Channel, Kind, Notification
from audit.models import AuditEvent
from backups.engine import pipeline
from backups.models import BackupRun
from tests.http_receiver import http_receiver


def test_a_500_is_retried_after_the_backoff_and_the_backup_stays_good(learning_db, local_tier, tasks_inline,
                                                                        settings, caplog):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    settings.LIFEBOAT_ALERT_RETRY_SECONDS = 60
    caplog.set_level(logging.WARNING, logger="alerts.delivery")
    with http_receiver(statuses=[500]) as receiver:
        Channel.objects.create(name="flaky", url=f"mmost://127.0.0.1:{receiver.port}/flaky", notify_success=True)
        run = pipeline.backup(learning_db)

        assert run.status == BackupRun.Status.SUCCEEDED
        run.refresh_from_db()
        assert run.status == BackupRun.Status.SUCCEEDED and run.artifacts.live().count() == 1
        n = Notification.objects.get()
        assert n.kind == Kind.BACKUP_SUCCEEDED and n.status == Notification.Status.PENDING and n.attempts == 1
        assert "500" in n.last_error
        assert any("attempt 1 of 5" in r.getMessage() and "flaky" in r.getMessage() for r in caplog.records)
        assert len(receiver.requests) == 1

        assert delivery.send_due() == 0  # the backoff has not passed: nothing is due yet
        with time_machine.travel(timezone.now() + timedelta(seconds=61)):
            assert delivery.send_due() == 1
        assert len(receiver.requests) == 2
        assert f"Backup of {learning_db.name} succeeded" in receiver.requests[1].json()["text"]

    n.refresh_from_db()
    assert n.status == Notification.Status.SENT and n.attempts == 2 and n.last_error == ""
    assert AuditEvent.objects.filter(action="alert.sent", target_id=str(n.pk)).count() == 1


def test_a_channel_that_keeps_failing_is_given_up_and_recorded(learning_db, local_tier, tasks_inline, settings,
                                                                 caplog):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    settings.LIFEBOAT_ALERT_MAX_ATTEMPTS = 3
    with http_receiver(statuses=[500, 502, 503]) as receiver:
        Channel.objects.create(name="down", url=f"mmost://127.0.0.1:{receiver.port}/down", notify_success=True)
        run = pipeline.backup(learning_db)
        start = timezone.now()
        for minutes in (2, 5):  # after 60 s, then 120 s more
            with time_machine.travel(start + timedelta(minutes=minutes)):
                delivery.send_due()
        with time_machine.travel(start + timedelta(days=1)):
            assert delivery.send_due() == 0  # given up: no fourth attempt
        assert len(receiver.requests) == 3

    assert BackupRun.objects.get(pk=run.pk).status == BackupRun.Status.SUCCEEDED
    n = Notification.objects.get()
    assert n.status == Notification.Status.FAILED and n.attempts == 3 and "503" in n.last_error
    assert AuditEvent.objects.filter(action="alert.send_failed", target_id=str(n.pk)).exists()
    assert any(r.levelno == logging.ERROR and "failed for good" in r.getMessage() for r in caplog.records)


def test_an_unreachable_channel_never_breaks_the_backup(learning_db, local_tier, tasks_inline, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    Channel.objects.create(name="nowhere", url="json://127.0.0.1:9/nothing", notify_success=True)
    Channel.objects.create(name="unset-env", url_env="LIFEBOAT_TEST_SURELY_UNSET_URL", notify_success=True)
    run = pipeline.backup(learning_db)
    assert run.status == BackupRun.Status.SUCCEEDED
    errors = dict(Notification.objects.values_list("channel__name", "last_error"))
    assert errors["nowhere"] and "LIFEBOAT_TEST_SURELY_UNSET_URL" in errors["unset-env"]
