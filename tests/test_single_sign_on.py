"""Single sign-on against a real OpenID Connect provider on loopback (django-oauth-toolkit, tests/oidc_provider):
users created at first sign-in, roles from the provider's groups claim at every sign-in, refusals said and
audited, break-glass local accounts, and sign-out through the provider."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth.models import User

from audit.models import AuditEvent
from sso import config
from sso.models import ExternalIdentity
from tests.oidc_provider import provider as idp


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory):
    provider = idp.start(tmp_path_factory.mktemp("idp"), "http://testserver")
    yield provider
    provider.stop()


@pytest.fixture
def sso_settings(db, settings, identity_provider):
    env = idp.lifeboat_env(identity_provider)
    settings.LIFEBOAT_OIDC_DISCOVERY_URL = env["LIFEBOAT_OIDC_DISCOVERY_URL"]
    settings.OIDC_RP_CLIENT_ID = env["LIFEBOAT_OIDC_CLIENT_ID"]
    settings.OIDC_RP_CLIENT_SECRET = env["LIFEBOAT_OIDC_CLIENT_SECRET"]
    settings.LIFEBOAT_OIDC_ROLE_MAP = env["LIFEBOAT_OIDC_ROLE_MAP"].split(",")
    settings.LIFEBOAT_OIDC_ENABLED = True
    config._cache.clear()
    return settings


def at_provider(authorize_url: str, username: str, password: str = idp.PASSWORD) -> str:
    """Sign in at the provider as a person would and return the URL it sends the browser back to."""
    browser = requests.Session()
    response = browser.get(authorize_url, allow_redirects=False)
    login_url = urljoin(authorize_url, response.headers["Location"])
    browser.get(login_url)
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    response = browser.post(login_url, data={"username": username, "password": password, "next": next_url,
                                             "csrfmiddlewaretoken": browser.cookies["idp_csrftoken"]},
                            headers={"Referer": login_url}, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    response = browser.get(urljoin(authorize_url, response.headers["Location"]), allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"]


def password_sign_in(client, username: str) -> bool:
    client.post("/accounts/login/", {"username": username, "password": "correct-horse-battery"})
    return client.get("/").status_code == 200


def sso_sign_in(client, username: str):
    start = client.get("/accounts/sso/sign-in/")
    assert start.status_code == 302 and start["Location"].startswith("http://localhost:")
    back = urlsplit(at_provider(start["Location"], username))
    assert back.path == "/accounts/sso/callback/", back
    return client.get(f"{back.path}?{back.query}")


def test_first_sign_in_creates_the_user_with_the_role_from_the_groups_claim(client, sso_settings,
                                                                            identity_provider):
    identity_provider.set_user("sso-dana", ["idp-dbas", "unrelated-group"])
    response = sso_sign_in(client, "sso-dana")
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="sso-dana")
    assert [g.name for g in user.groups.all()] == ["DBA"]
    assert not user.has_usable_password()  # never a local password
    identity = ExternalIdentity.objects.get(user=user)
    assert identity.issuer == identity_provider.issuer and identity.last_roles == ["DBA"]
    assert "unrelated-group" in identity.last_groups
    assert client.get("/").status_code == 200  # signed in, with the DBA's view
    signed_in = AuditEvent.objects.filter(action="auth.signed_in", actor="sso-dana").get()
    assert signed_in.details["method"] == "single sign-on"


def test_roles_are_re_evaluated_at_every_sign_in(client, sso_settings, identity_provider):
    identity_provider.set_user("sso-lee", ["idp-dbas"])
    sso_sign_in(client, "sso-lee")
    client.post("/accounts/logout/")
    identity_provider.set_user("sso-lee", ["idp-leads", "idp-admins"])
    sso_sign_in(client, "sso-lee")
    user = User.objects.get(username="sso-lee")
    assert sorted(g.name for g in user.groups.all()) == ["Admin", "Team lead"]
    assert user.is_staff  # the Admin role opens the admin, as for local users
    removed = AuditEvent.objects.filter(action__startswith="config.", summary__contains="sso-lee")
    assert removed.filter(actor="identity provider for sso-lee").exists()


def test_a_user_removed_from_every_mapped_group_loses_the_roles_and_is_refused(client, sso_settings,
                                                                              identity_provider):
    identity_provider.set_user("sso-max", ["idp-dbas"])
    sso_sign_in(client, "sso-max")
    client.post("/accounts/logout/")
    identity_provider.set_user("sso-max", ["someone-elses-group"])
    response = sso_sign_in(client, "sso-max")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    page = client.get("/accounts/login/")
    assert "grants this account no Lifeboat role" in page.content.decode()
    assert not User.objects.get(username="sso-max").groups.exists()
    assert client.get("/").status_code == 302  # not signed in
    refusal = AuditEvent.objects.filter(action="auth.sign_in_failed", summary__contains="sso-max").get()
    assert refusal.details["method"] == "single sign-on"


def test_a_provider_name_never_takes_over_a_local_account(client, sso_settings, identity_provider, make_user):
    make_user("breakglass", "Admin")
    identity_provider.set_user("breakglass", ["idp-admins"])
    response = sso_sign_in(client, "breakglass")
    assert response["Location"] == "/accounts/login/"
    assert "already belongs to a local Lifeboat account" in client.get("/accounts/login/").content.decode()
    assert not ExternalIdentity.objects.exists()


def test_a_deactivated_user_is_refused(client, sso_settings, identity_provider):
    identity_provider.set_user("sso-gone", ["idp-dbas"])
    sso_sign_in(client, "sso-gone")
    client.post("/accounts/logout/")
    User.objects.filter(username="sso-gone").update(is_active=False)
    assert sso_sign_in(client, "sso-gone")["Location"] == "/accounts/login/"
    assert "is deactivated" in client.get("/accounts/login/").content.decode()


def test_sign_out_ends_the_provider_session_too(client, sso_settings, identity_provider):
    identity_provider.set_user("sso-out", ["idp-dbas"])
    sso_sign_in(client, "sso-out")
    # The page's policy lets the sign-out form end at the provider (form-action), and only there.
    policy = client.get("/")["Content-Security-Policy"]
    assert f"form-action 'self' {identity_provider.url}" in policy
    response = client.post("/accounts/logout/")
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}".startswith(identity_provider.issuer)
    query = parse_qs(location.query)
    assert query["id_token_hint"] and query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.signed_out", actor="sso-out").exists()


def test_an_unreachable_provider_says_so_and_local_sign_in_still_works(db, client, settings, make_user):
    settings.LIFEBOAT_OIDC_DISCOVERY_URL = "http://127.0.0.1:9/nowhere"
    settings.OIDC_RP_CLIENT_ID, settings.LIFEBOAT_OIDC_ENABLED, settings.OIDC_TIMEOUT = "lifeboat", True, 2
    config._cache.clear()
    response = client.get("/accounts/sso/sign-in/", follow=True)
    assert "Single sign-on is unavailable" in response.content.decode()
    make_user("local-dba", "DBA")
    assert password_sign_in(client, "local-dba")
    form_action = re.search(r"form-action ([^;]*)", client.get("/")["Content-Security-Policy"]).group(1)
    assert form_action.strip() == "'self'"  # nowhere else for a local session


def test_break_glass_mode_allows_passwords_only_for_the_named_accounts(client, settings, make_user):
    settings.LIFEBOAT_LOCAL_SIGN_IN, settings.LIFEBOAT_BREAK_GLASS_USERS = "break-glass", ["root-admin"]
    make_user("root-admin", "Admin")
    make_user("everyday", "DBA")
    assert password_sign_in(client, "root-admin")
    client.post("/accounts/logout/")
    assert not password_sign_in(client, "everyday")
    page = client.get("/accounts/login/").content.decode()
    assert "only for the break-glass accounts" in page


def test_sign_in_page_offers_single_sign_on_only_when_configured(client, sso_settings):
    assert "Sign in with single sign-on" in client.get("/accounts/login/").content.decode()
    sso_settings.LIFEBOAT_OIDC_ENABLED = False
    assert "single sign-on" not in client.get("/accounts/login/").content.decode()


def test_role_map_refuses_unknown_roles(settings):
    settings.LIFEBOAT_OIDC_ROLE_MAP = ["idp-dbas=Superhero"]
    with pytest.raises(ValueError, match="Superhero"):
        config.role_map()
    settings.LIFEBOAT_OIDC_ROLE_MAP = ["idp-dbas=DBA", "idp-leads=Team lead"]
    assert config.roles_from_claims({"groups": ["idp-leads", "idp-dbas", "x"]}) == ["DBA", "Team lead"]
    assert config.roles_from_claims({"groups": "idp-dbas"}) == ["DBA"]
    assert config.roles_from_claims({}) == []


def test_admin_cannot_edit_roles_of_a_single_sign_on_user(client, sso_settings, identity_provider, make_user):
    identity_provider.set_user("sso-ro", ["idp-dbas"])
    sso_sign_in(client, "sso-ro")
    client.post("/accounts/logout/")
    admin = make_user("people-admin", "Admin")
    client.force_login(admin)
    user = User.objects.get(username="sso-ro")
    page = client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    assert 'name="groups"' not in page  # shown, not editable: the provider decides


def test_misconfiguration_is_found_by_check(settings):
    from sso.checks import single_sign_on_settings

    settings.LIFEBOAT_OIDC_ROLE_MAP, settings.LIFEBOAT_OIDC_ENABLED = ["idp=Overlord"], True
    settings.LIFEBOAT_LOCAL_SIGN_IN, settings.LIFEBOAT_BREAK_GLASS_USERS = "break-glass", []
    assert {e.id for e in single_sign_on_settings()} == {"sso.E001", "sso.E003"}
    settings.LIFEBOAT_OIDC_ROLE_MAP = []
    assert "sso.E002" in {e.id for e in single_sign_on_settings()}
    settings.LIFEBOAT_OIDC_ROLE_MAP, settings.LIFEBOAT_BREAK_GLASS_USERS = ["idp=DBA"], ["root"]
    assert single_sign_on_settings() == []
