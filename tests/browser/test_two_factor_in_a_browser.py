"""A person enrols an authenticator in Chromium (QR code shown, secret typed into "their app"), keeps the
recovery codes, signs out, and signs in again with password then code; nothing on the way breaks the CSP."""

from __future__ import annotations

import base64

from django_otp.oath import totp

from tests.browser.conftest import PASSWORD
from tests.browser.test_content_security_policy_in_a_browser import LISTEN


def app_code(secret: str, *, next_window: bool = False) -> str:
    """The authenticator app's code for the secret; the next 30-second window's for a second use (a code is
    accepted once, and one window of clock drift either way)."""
    text = "".join(secret.split())
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    return f"{totp(key, drift=1 if next_window else 0):06d}"


def test_enrol_then_sign_in_with_password_and_code(page, served):
    served.manage("shell", "-c", "from django.contrib.auth.models import Group, User\n"
                  f"u = User.objects.create_user('otto', password='{PASSWORD}')\n"
                  "u.groups.add(Group.objects.get(name='DBA'))\n")
    page.add_init_script(LISTEN)
    page.goto(f"{served.url}/accounts/login/")
    page.get_by_label("Username").fill("otto")
    page.get_by_label("Password").fill(PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/")

    page.click("header >> text=otto")
    page.wait_for_url(f"{served.url}/account/two-factor/")
    assert page.locator(".qr-code img").evaluate("img => img.complete && img.naturalWidth > 0")
    secret = page.inner_text("[data-secret]")
    page.get_by_label("Code").fill(app_code(secret))
    page.click("button:has-text('Confirm and turn on')")
    page.wait_for_selector("[data-two-factor=on]")
    assert page.locator("ul.recovery-codes li").count() == 10
    assert page.evaluate("window.__cspViolations") == []

    page.click("text=Sign out")
    page.wait_for_url(f"{served.url}/accounts/login/")
    page.get_by_label("Username").fill("otto")
    page.get_by_label("Password").fill(PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/account/two-factor/sign-in/**")
    assert "Password accepted for otto" in page.inner_text("main")
    page.get_by_label("Code").fill(app_code(secret, next_window=True))
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/")
    assert "otto" in page.inner_text("header")
    assert page.evaluate("window.__cspViolations") == []
