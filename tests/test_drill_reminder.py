"""The plan's drills are announced before they start: once, on every channel, and never for simulated ones."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts.drill_reminders import send_due_reminders
from alerts.models import Channel, Kind, Notification
from audit.models import AuditEvent
from tests.drill_helpers import make_drill


def test_a_drill_within_the_window_is_announced_once_on_every_channel(team_lead, dba, settings):
    settings.LIFEBOAT_DRILL_REMINDER_HOURS = 48
    everything = Channel.objects.create(name="team", url="json://127.0.0.1:9/hook")
    Channel.objects.create(name="pager", url="json://127.0.0.1:9/pager", kinds=[Kind.BACKUP_FAILED])
    now = timezone.now()
    soon = make_drill(team_lead, dba, planned_at=now + timedelta(hours=30))
    make_drill(team_lead, dba, planned_at=now + timedelta(days=5))
    make_drill(team_lead, dba, planned_at=now + timedelta(hours=20), simulated=True)

    assert send_due_reminders(now) == 1
    assert send_due_reminders(now + timedelta(hours=1)) == 0  # once per drill

    reminder = Notification.objects.get(kind=Kind.DRILL_REMINDER)
    assert reminder.channel == everything  # the pager channel chose its kinds and did not pick reminders
    assert str(soon.planned_at.year) in reminder.title and "terry-lead" in reminder.body
    soon.refresh_from_db()
    assert soon.reminded_at == now
    assert AuditEvent.objects.filter(action="drill.reminder_sent", target_id=str(soon.pk)).count() == 1


def test_a_started_drill_is_not_announced(team_lead, dba):
    from drills import conduct

    now = timezone.now()
    drill = make_drill(team_lead, dba, planned_at=now + timedelta(hours=3))
    conduct.start(drill, team_lead)

    assert send_due_reminders(now) == 0
