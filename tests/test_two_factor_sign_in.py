"""Two-factor sign-in for local accounts: enrol an authenticator (QR code and secret, confirmed by a code), then
sign-in asks for a code after the password; a wrong code is refused, a recovery code works once; a role that
requires it is sent to enrol and can use nothing else until done; every change and refused code is audited."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.test_content_security_policy import inline_parts

PASSWORD = "correct-horse-battery"
MANAGE = reverse("two_factor:manage")
SIGN_IN = reverse("two_factor:sign_in")


def code_for(secret: str) -> str:
    """What the person's authenticator app shows now for the secret the page gave them."""
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{totp(key):06d}"


def enrol(client, user) -> tuple[str, list[str]]:
    """Through the page, as a person does: read the secret, confirm with the app's code. (secret, codes)."""
    client.force_login(user)
    page = client.get(MANAGE).content.decode()
    secret = re.search(r"<code data-secret>([A-Z2-7 ]+)</code>", page).group(1)
    done = client.post(MANAGE, {"action": "confirm", "code": code_for(secret)}).content.decode()
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done)
    assert 'data-two-factor="on"' in done
    client.logout()
    return secret, codes


def password_step(client, username: str):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD, "next": "/backups/"})


def later(minutes: int = 1):
    """A fresh 30-second window (a TOTP code is accepted once) and past django-otp's throttle after a failure."""
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=True)


def actions(user) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=str(user.pk), action__startswith="auth.")
                .exclude(action__in=("auth.signed_in", "auth.signed_out")).values_list("action", flat=True))


def test_enrolment_page_shows_a_qr_code_and_the_secret_in_the_layout_without_inline_code(client, dba):
    client.force_login(dba)
    page = client.get(MANAGE).content.decode()

    assert '<img src="data:image/svg+xml' in page and "<code data-secret>" in page
    assert '<label for="id_code">Code:</label>' in page and 'class="topbar"' in page
    assert inline_parts(page) == []
    device = TOTPDevice.objects.get(user=dba, confirmed=False)
    assert client.get(MANAGE).content.decode().count("secret=") == 0  # the otpauth URL only inside the QR code
    assert TOTPDevice.objects.get(user=dba, confirmed=False) == device  # a reload keeps the secret already scanned


def test_enrol_then_sign_in_asks_for_the_code_after_the_password(client, dba):
    secret, codes = enrol(client, dba)
    assert len(codes) == 10 and len(set(codes)) == 10

    with later():
        first = password_step(client, "dana-dba")
        assert first.status_code == 302 and first["Location"].startswith(SIGN_IN)
        assert client.get(reverse("home")).status_code == 302  # not signed in after the password alone
        assert "_auth_user_id" not in client.session

        done = client.post(first["Location"], {"code": code_for(secret), "next": "/backups/"})

    assert done.status_code == 302 and done["Location"] == "/backups/"
    assert client.get("/backups/").status_code == 200
    assert actions(dba) == ["auth.second_factor_added"]


def test_wrong_code_is_refused_and_audited(client, dba):
    secret, _ = enrol(client, dba)
    with later():
        password_step(client, "dana-dba")
        wrong = f"{(int(code_for(secret)) + 1) % 1_000_000:06d}"
        refused = client.post(SIGN_IN, {"code": wrong})

    assert refused.status_code == 200 and "That code is not valid" in refused.content.decode()
    assert client.get(reverse("home")).status_code == 302
    assert actions(dba) == ["auth.second_factor_added", "auth.second_factor_failed"]


def test_a_recovery_code_signs_in_once(client, dba):
    _, codes = enrol(client, dba)
    with later():
        password_step(client, "dana-dba")
        assert client.post(SIGN_IN, {"code": codes[0]}).status_code == 302
        assert client.get(reverse("home")).status_code == 200
        client.logout()
    with later(minutes=2):
        password_step(client, "dana-dba")
        again = client.post(SIGN_IN, {"code": codes[0]})

    assert again.status_code == 200 and "That code is not valid" in again.content.decode()
    assert actions(dba) == ["auth.second_factor_added", "auth.recovery_code_used", "auth.second_factor_failed"]
    assert "9 left" in AuditEvent.objects.get(action="auth.recovery_code_used").summary


@pytest.fixture
def admins_and_dbas_need_it(settings):
    settings.LIFEBOAT_REQUIRE_2FA_ROLES = ["Admin", "DBA"]


def test_a_required_role_is_sent_to_enrol_and_can_use_nothing_else_until_done(client, dba, auditor,
                                                                             admins_and_dbas_need_it):
    client.force_login(dba)
    for url in (reverse("home"), reverse("backups:run_list"), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == MANAGE, url
    assert client.get(reverse("home"), HTTP_HX_REQUEST="true")["HX-Redirect"] == MANAGE  # polling too
    page = client.get(MANAGE).content.decode()
    assert "Your role requires two-factor sign-in" in page

    secret = re.search(r"<code data-secret>([A-Z2-7 ]+)</code>", page).group(1)
    client.post(MANAGE, {"action": "confirm", "code": code_for(secret)})
    assert client.get(reverse("home")).status_code == 200  # the session that enrolled carries on

    client.force_login(auditor)  # a role the setting does not name is not asked
    assert client.get(reverse("home")).status_code == 200


def test_a_session_not_verified_by_the_device_is_signed_out(client, dba):
    """Signed in before enrolling (on another browser), or by a path without the code step: signed out."""
    other_browser = client.__class__()
    other_browser.force_login(dba)
    enrol(client, dba)

    response = other_browser.get(reverse("home"))

    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert "_auth_user_id" not in other_browser.session
    assert client.get(reverse("admin:login"))["Location"].startswith(reverse("login"))  # the admin's form too


def test_removing_needs_a_current_code_and_is_audited(client, dba):
    secret, _ = enrol(client, dba)
    with later():
        password_step(client, "dana-dba")
        client.post(SIGN_IN, {"code": code_for(secret)})
    with later(minutes=2):
        refused = client.post(MANAGE, {"action": "remove", "code": "000000"})
        assert "That code is not valid" in refused.content.decode() and TOTPDevice.objects.filter(user=dba).exists()
    with later(minutes=3):
        client.post(MANAGE, {"action": "remove", "code": code_for(secret)})

    assert not TOTPDevice.objects.filter(user=dba).exists()
    assert actions(dba) == ["auth.second_factor_added", "auth.second_factor_failed", "auth.second_factor_removed"]
    assert client.get(reverse("home")).status_code == 200  # still signed in; sign-in asks for no code now


def test_an_unknown_role_in_the_setting_stops_lifeboat_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(tmp_path), "LIFEBOAT_REQUIRE_2FA_ROLES": "Admin,Admins",
           "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "manage.py"), "check"],
                          env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "LIFEBOAT_REQUIRE_2FA_ROLES: unknown role(s) Admins; the roles are DBA, Team lead, Admin, Auditor")
