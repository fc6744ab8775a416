"""The read-only audit trail page filters by action prefix, actor and day; everyone with a role may read it."""

from __future__ import annotations

from django.urls import reverse

from audit import trail


def test_filters_by_action_prefix_actor_and_day(client, auditor, time_machine):
    time_machine.move_to("2026-03-01 10:00:00+00:00", tick=False)
    trail.record("config.database.updated", actor="ada-admin", summary="database orders changed: rpo_hours")
    trail.record("backup.failed", summary="backup of orders failed")
    time_machine.move_to("2026-03-03 10:00:00+00:00", tick=False)
    trail.record("config.tier.created", actor="ada-admin", summary="tier s3 created")
    client.force_login(auditor)
    url = reverse("audit_list")

    page = client.get(url, {"action": "config."}).content.decode()
    assert "rpo_hours" in page and "tier s3 created" in page and "backup of orders failed" not in page
    page = client.get(url, {"action": "config.", "until": "2026-03-02"}).content.decode()
    assert "rpo_hours" in page and "tier s3 created" not in page
    page = client.get(url, {"actor": "system"}).content.decode()
    assert "backup of orders failed" in page and "rpo_hours" not in page
    fragment = client.get(url, {"since": "2026-03-02"}, HTTP_HX_REQUEST="true").content.decode()
    assert "tier s3 created" in fragment and "rpo_hours" not in fragment and "<h1>" not in fragment
    assert "YYYY-MM-DD" in client.get(url, {"since": "yesterday"}).content.decode()


def test_a_stranger_without_a_role_is_refused(client, stranger):
    client.force_login(stranger)
    assert client.get(reverse("audit_list")).status_code == 403
