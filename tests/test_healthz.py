"""/healthz for load balancers: public on purpose, 200 only while the database answers and the cluster beats."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from alerts import tasks
from alerts.models import Heartbeat


def test_healthz_fails_until_the_cluster_has_beaten(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "failing", "database": "ok", "cluster": "no recent heartbeat"}


def test_healthz_is_ok_after_a_heartbeat_and_fails_when_it_gets_old(client, db, settings):
    settings.LIFEBOAT_HEALTHZ_MAX_AGE = 180
    tasks.heartbeat()  # what the qcluster runs every minute
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok", "cluster": "ok"}
    with time_machine.travel(timezone.now() + timedelta(seconds=181)):
        assert client.get("/healthz").status_code == 503
    assert Heartbeat.objects.count() == 1  # one row, rewritten: it does not grow


def test_healthz_reports_an_unreachable_database(client, db, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def broken(self, sql, params=None):
        raise OSError("server closed the connection")

    with monkeypatch.context() as patched:
        patched.setattr(CursorWrapper, "execute", broken)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert b"closed the connection" not in response.content  # anyone may call it: no error text leaks
