"""The audit page shows an event's details as a key/value table, and a change as before/after: never a dict repr."""

from __future__ import annotations

from django.urls import reverse

from audit import trail
from backups.models import Database


def test_a_configuration_change_reads_as_before_and_after(client, admin_user, auditor):
    client.force_login(admin_user)
    database = Database.objects.create(name="orders", dbname="orders", rpo_hours=24)
    with trail.acting_as(admin_user):
        database.rpo_hours = 4
        database.save()
    client.force_login(auditor)

    page = client.get(reverse("audit_list"), {"action": "config.database.updated"}).content.decode()

    assert "{'" not in page and "&#x27;before&#x27;" not in page
    assert '<tr class="changed"><th scope="row">rpo hours</th><td>24</td><td>4</td></tr>' in page


def test_plain_details_read_as_a_table(client, auditor):
    trail.record("verification.failed", summary="verification failed",
                 details={"restore_seconds": None, "checks": [{"name": "row_counts", "ok": False}], "artifact": 7})
    client.force_login(auditor)

    page = client.get(reverse("audit_list"), {"action": "verification."}).content.decode()

    assert '<th scope="row">restore seconds</th><td>—</td>' in page
    assert "name: row_counts; ok: no" in page
    assert "{&#x27;" not in page
