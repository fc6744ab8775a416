"""The "send test notification" button (page and admin action) reaches the channel; only admins may press it."""

from __future__ import annotations

from alerts.models import Channel, Notification
from audit.models import AuditEvent
from tests.http_receiver import http_receiver


def test_admin_sends_a_test_notification_from_the_alerts_page(client, admin_user, tasks_inline):
    with http_receiver() as receiver:
        channel = Channel.objects.create(name="ops", url=f"json://127.0.0.1:{receiver.port}/notify")
        client.force_login(admin_user)
        assert "Send test notification" in client.get("/alerts/").text
        response = client.post(f"/alerts/channels/{channel.pk}/test/", follow=True)
    assert response.status_code == 200 and "Test notification to ops: sent" in response.text
    [request] = receiver.requests
    assert request.path == "/notify" and "Lifeboat test notification for ops" in request.json()["title"]
    assert AuditEvent.objects.filter(action="alert.test_requested", actor=admin_user.username).exists()
    assert AuditEvent.objects.filter(action="alert.sent").count() == 1


def test_admin_action_sends_to_each_selected_channel(client, admin_user, tasks_inline):
    with http_receiver() as receiver:
        a = Channel.objects.create(name="a", url=f"json://127.0.0.1:{receiver.port}/a")
        b = Channel.objects.create(name="b", url=f"json://127.0.0.1:{receiver.port}/b")
        client.force_login(admin_user)
        client.post("/admin/alerts/channel/", {"action": "send_test_notification",
                                               "_selected_action": [a.pk, b.pk]})
    assert sorted(r.path for r in receiver.requests) == ["/a", "/b"]
    assert set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.SENT}


def test_a_failing_test_notification_says_why(client, admin_user, tasks_inline):
    with http_receiver(statuses=[500]) as receiver:
        channel = Channel.objects.create(name="broken", url=f"json://127.0.0.1:{receiver.port}/x")
        client.force_login(admin_user)
        response = client.post(f"/alerts/channels/{channel.pk}/test/", follow=True)
    assert "Test notification to broken: pending" in response.text and "500" in response.text


def test_only_holders_of_the_permission_may_send_tests(client, team_lead, dba, db):
    channel = Channel.objects.create(name="ops", url="json://127.0.0.1:9/x")
    for user in (team_lead, dba):
        client.force_login(user)
        assert client.post(f"/alerts/channels/{channel.pk}/test/").status_code == 403
        assert "Send test notification" not in client.get("/alerts/").text
    assert not Notification.objects.exists()


def test_channel_validation_refuses_unknown_urls_and_needs_exactly_one_source(db):
    import pytest
    from django.core.exceptions import ValidationError

    for fields in ({"url": "nonsense://what"}, {}, {"url": "json://h/x", "url_env": "SLACK_URL"},
                   {"url": "json://h/x", "kinds": ["no_such_kind"]}):
        with pytest.raises(ValidationError):
            Channel(name="c", **fields).full_clean()
    Channel(name="c", url="pagerduty://integrationkey@apikey").full_clean()
    Channel(name="d", url_env="LIFEBOAT_SLACK_ALERTS_URL").full_clean()
