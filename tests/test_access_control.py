"""Every page needs a sign-in; state changes need a permission; every POST needs its CSRF token."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# Reachable without signing in, on purpose: the sign-in page itself (and logout). Two more endpoints are
# exempt from the walk below and have tests of their own instead:
# - "healthz": the one deliberately public endpoint, for load balancers; it reveals only ok/failing
#   (test_healthz_is_public_and_reveals_only_ok_or_failing).
# - "metrics": guarded by a bearer token, not a session, so an anonymous visitor gets 401, not a redirect
#   (test_metrics_answers_401_to_anonymous_visitors).
PUBLIC = {"login", "logout", "favicon"}  # the icon: tests/test_error_pages_and_favicon.py
TESTED_SEPARATELY = {"healthz", "metrics"}
# The JSON API is guarded by bearer tokens, not a session: a visitor without one gets a 401 problem (404 outside
# its endpoints, 405 for a method it does not take), never a redirect. Its OpenAPI document and docs page are
# public on purpose: they describe the API and hold no data (tests/test_api_openapi.py).
API_PUBLIC = {"api-v1:openapi-json", "api-v1:openapi-view"}
SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def all_urls() -> list[tuple[str, str]]:
    """(name, url) for every URL pattern of the project, parameters filled with sample values."""
    found = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                url = "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE[m.group(1) or "str"], route)
                url = re.sub(r"[\^$]|\(\?P<\w+>[^)]*\)", lambda m: "x" if m.group(0).startswith("(") else "", url)
                found.append((f"{namespace}{p.name or url}", url.replace("\\", "")))

    walk(get_resolver().url_patterns, "", "")
    return found


URLS = [(name, url) for name, url in all_urls()
        if name.split(":")[-1] not in PUBLIC | TESTED_SEPARATELY and name not in API_PUBLIC and "static" not in url]


@pytest.mark.parametrize(("name", "url"), URLS, ids=[n for n, _ in URLS])
def test_anonymous_visitor_is_sent_to_sign_in_or_refused(client, name, url, db):
    for method in (client.get, client.post):
        response = method(url)
        if url.startswith("/api/v1/"):
            assert response.status_code in (401, 404, 405), f"{name} {url} answered {response.status_code}"
            continue
        assert response.status_code in (302, 403, 405), f"{name} {url} answered {response.status_code}"
        if response.status_code == 302:
            assert "login" in response["Location"], f"{name} redirected to {response['Location']}"


def test_the_walk_covers_every_page_of_the_product():
    names = {n for n, _ in URLS}
    assert {"home", "backups:run_list", "backups:run_detail", "backups:verify", "backups:backup_now"} <= names
    assert {"alerts:list", "alerts:detail", "alerts:send_test"} <= names
    # Exactly the two endpoints exempted above are left out (beside sign-in/out and static files).
    left_out = {n for n, u in all_urls() if n not in names and n.split(":")[-1] not in PUBLIC and "static" not in u}
    assert {"api-v1:start_backup", "api-v1:runs", "api_tokens", "api_token_revoke"} <= names
    assert left_out == TESTED_SEPARATELY | API_PUBLIC


def test_healthz_is_public_and_reveals_only_ok_or_failing(client, db):
    response = client.get("/healthz")
    assert response.status_code in (200, 503)
    assert set(response.json()) == {"status", "database", "cluster"}
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize("configured", ["", "a-configured-token"])
def test_metrics_answers_401_to_anonymous_visitors(client, db, settings, configured):
    settings.LIFEBOAT_METRICS_TOKEN = configured
    assert client.get("/metrics").status_code == 401
    assert client.post("/metrics").status_code in (401, 405)


# Pages signed in with a session. The API takes no session (no cookie, so no CSRF to forge): its writes are
# refused per token scope and role in tests/test_api_endpoints.py.
PRODUCT_URLS = [(n, u) for n, u in URLS if not n.startswith("admin:") and not u.startswith("/api/v1/")]


def post_only_urls(client) -> list[tuple[str, str]]:
    """Every write is @require_POST, so the endpoints that refuse a signed-in GET with 405 are the writes."""
    return [(n, u) for n, u in PRODUCT_URLS if client.get(u).status_code == 405]


def test_auditor_is_refused_every_state_change(client, auditor):
    client.force_login(auditor)
    writes = post_only_urls(client)
    assert {"backups:verify", "backups:restore_new", "backups:backup_now"} <= {n for n, _ in writes}
    for name, url in writes:
        if "evidence" in name or "export" in name or name == "api_token_revoke":
            continue  # exporting evidence is what an auditor does; anyone revokes their own API tokens
        response = client.post(url, {})
        assert response.status_code == 403, f"{name} answered {response.status_code} to an auditor"


def test_every_post_needs_the_csrf_token(admin_user, db):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)
    writes = post_only_urls(csrf_client)
    assert writes
    for name, url in writes:
        response = csrf_client.post(url, {}, HTTP_HX_REQUEST="true")
        assert response.status_code == 403 and b"CSRF" in response.content, f"{name} accepted a POST without CSRF"
