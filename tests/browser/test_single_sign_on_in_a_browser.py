"""A DBA signs in to Lifeboat through the team's identity provider (a real OIDC provider on another loopback
host), lands on the overview with the role the provider's groups give, and signs out of both."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import OUTPUT, Served, _free_port, require_chromium, start_server, stop_server
from tests.oidc_provider import provider as idp


@pytest.fixture(scope="module")
def sso_served(tmp_path_factory):
    require_chromium()
    var = tmp_path_factory.mktemp("sso-served")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"  # Lifeboat on 127.0.0.1, the provider on localhost: cookies stay apart
    provider = idp.start(var, url)
    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(var / "lifeboat"), "DJANGO_SETTINGS_MODULE": "dashboard.settings",
           "LIFEBOAT_WORKERS": "1", "WEB_WORKERS": "2", "BIND": f"127.0.0.1:{port}", **idp.lifeboat_env(provider)}
    for key in ("DATABASE_URL", "REDIS_URL", "DEBUG", "PYTHONPATH"):
        env.pop(key, None)
    served = Served(url, env, "")
    served.manage("migrate", "-v0")
    served.manage("collectstatic", "--noinput", "-v0")
    server = start_server(url, env, var)
    try:
        yield served, provider
    finally:
        stop_server(server)
        provider.stop()


def sign_in_through_provider(page, served: Served, username: str) -> None:
    page.goto(f"{served.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    page.wait_for_url("http://localhost:*/accounts/login/**")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", idp.PASSWORD)
    page.click("text=Continue")
    page.wait_for_url(f"{served.url}/")


def test_dba_signs_in_through_the_identity_provider_and_out_again(page, sso_served):
    served, provider = sso_served
    provider.set_user("robin", ["idp-dbas"])
    sign_in_through_provider(page, served, "robin")
    assert "robin" in page.locator("header").inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "signed-in-through-sso.png"), full_page=True)
    roles = served.manage("shell", "-v0", "-c", "from django.contrib.auth.models import User\n"
                          "print(','.join(User.objects.get(username='robin').groups.values_list('name', flat=True)))")
    assert roles.strip() == "DBA"

    page.click("text=Sign out")
    page.wait_for_url(f"{served.url}/accounts/login/")
    # The provider's session ended too: signing in again asks the provider for the password again.
    page.click("text=Sign in with Example SSO")
    page.wait_for_url("http://localhost:*/accounts/login/**")
    assert page.locator("input[name=password]").is_visible()


def test_a_user_the_provider_gives_no_role_is_told_why(page, sso_served):
    served, provider = sso_served
    provider.set_user("casey", ["marketing"])
    page.goto(f"{served.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    page.fill("input[name=username]", "casey")
    page.fill("input[name=password]", idp.PASSWORD)
    page.click("text=Continue")
    page.wait_for_url(f"{served.url}/accounts/login/")
    assert "grants this account no Lifeboat role" in page.locator("main").inner_text()
