"""Sign-in resists guessing and sessions end: django-axes locks a user out from an address after repeated
failures (one audit event per lockout), sessions expire when idle (background polling does not count), passwords
are at least 12 characters."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from dashboard.middleware import LAST_ACTIVITY, POLL_HEADER

RIGHT = "correct-horse-battery"


def sign_in(client, username, password, ip="10.0.0.9"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_ten_wrong_passwords_lock_the_account_even_against_the_right_one(client, dba, settings):
    settings.AXES_FAILURE_LIMIT = 10
    for _ in range(9):
        assert sign_in(client, "dana-dba", "wrong-password").status_code == 200  # the form again
    assert sign_in(client, "dana-dba", "wrong-password").status_code == 429  # the tenth locks
    refused = sign_in(client, "dana-dba", RIGHT)
    assert refused.status_code == 429 and "Sign-in locked" in refused.text
    assert "_auth_user_id" not in client.session
    # Another address is not locked out: the lock is for this user from that address.
    assert sign_in(client, "dana-dba", RIGHT, ip="10.0.0.10").status_code == 302


def test_a_lockout_is_one_audit_event_not_one_per_attempt(client, dba, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(8):
        sign_in(client, "dana-dba", "wrong-password")
    assert AuditEvent.objects.filter(action="auth.locked_out").count() == 1
    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert locked.details["username"] == "dana-dba" and locked.details["ip"] == "10.0.0.9"
    # The failures before the limit are recorded, the one that reached it is the lockout, the attempts refused
    # by the lockout are not recorded at all.
    assert AuditEvent.objects.filter(action="auth.sign_in_failed").count() == 2


def test_an_idle_session_ends_and_background_polling_does_not_keep_it_alive(client, dba, settings):
    settings.LIFEBOAT_SESSION_IDLE_SECONDS = 60
    assert sign_in(client, "dana-dba", RIGHT).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 50
    session.save()
    # A poll 50 s later is answered but does not count as activity...
    poll = {"HX-Request": "true", POLL_HEADER: "1"}
    assert client.get(reverse("home") + "?part=matrix", headers=poll).status_code == 200
    assert client.session[LAST_ACTIVITY] == pytest.approx(time.time() - 50, abs=5)
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 61
    session.save()
    # ...so a minute after the person's last request the session is over, for a poll as for a page.
    polled = client.get(reverse("home") + "?part=matrix", headers=poll)
    assert polled.status_code == 200 and polled.headers["HX-Redirect"].startswith(reverse("login"))
    page = client.get(reverse("home"))
    assert page.status_code == 302 and page.url.startswith(reverse("login"))


def test_activity_keeps_a_session_alive(client, dba, settings):
    settings.LIFEBOAT_SESSION_IDLE_SECONDS = 600
    sign_in(client, "dana-dba", RIGHT)
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 590
    session.save()
    assert client.get(reverse("home")).status_code == 200
    assert client.session[LAST_ACTIVITY] == pytest.approx(time.time(), abs=5)


def test_sessions_last_twelve_hours_at_most(settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600


@pytest.mark.parametrize("password", ["short-pw-11", "12345678901234"])
def test_weak_passwords_are_refused(password, db):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_twelve_character_password_is_accepted(db):
    validate_password("lantern-quay7")
