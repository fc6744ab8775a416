"""A failed backup sends exactly one Slack-format message to a Slack-compatible webhook on loopback.

apprise's slack:// plugin always posts to hooks.slack.com, which a test cannot reach or stand in for without
patching apprise. Its Mattermost plugin (mmost://) posts Slack's incoming-webhook payload ({"text", "username",
"icon_url"}: Mattermost webhooks are Slack-compatible) to any host, so the real apprise sends a real HTTP
request to a real server thread here, and the test checks the payload Slack's webhook accepts.
"""

from __future__ import annotations

import socket
import uuid

from alerts import engine
from alerts.models import Alert, Channel, Kind, Notification
from audit.models import AuditEvent
from backups.engine import pipeline
from backups.models import BackupRun, Database
from tests.http_receiver import http_receiver

# What Slack's incoming webhooks accept at the top level of a message.
SLACK_WEBHOOK_FIELDS = {"text", "username", "icon_url", "icon_emoji", "channel", "attachments", "blocks", "mrkdwn"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_failed_backup_sends_exactly_one_slack_format_message(db, backup_root, tasks_inline, client, admin_user):
    database = Database.objects.create(name=f"gone_{uuid.uuid4().hex[:8]}", host="127.0.0.1", port=closed_port(),
                                       dbname="nothing_here")
    with http_receiver() as receiver:
        Channel.objects.create(name="team-slack", url=f"mmost://127.0.0.1:{receiver.port}/lifeboattoken")

        run = pipeline.backup(database)
        assert run.status == BackupRun.Status.FAILED

        assert len(receiver.requests) == 1
        message = receiver.requests[0]
        assert message.path == "/hooks/lifeboattoken"
        assert message.headers["Content-Type"].startswith("application/json")
        payload = message.json()
        assert set(payload) <= SLACK_WEBHOOK_FIELDS and isinstance(payload["text"], str)
        assert f"Backup of {database.name} failed" in payload["text"]
        assert f"Backup #{run.pk}" in payload["text"] and "connection" in payload["text"].lower()

        # The condition lasts, but it already fired: the periodic evaluation sends nothing more.
        engine.evaluate()
        assert len(receiver.requests) == 1

    alert = Alert.objects.get()
    assert alert.kind == Kind.BACKUP_FAILED and alert.status == "open"
    assert Notification.objects.get().status == Notification.Status.SENT
    sent = AuditEvent.objects.filter(action="alert.sent")
    assert sent.count() == 1 and "team-slack" in sent.get().summary
    client.force_login(admin_user)
    page = client.get("/alerts/").text
    assert f"Backup of {database.name} failed" in page and "Sent" in page
