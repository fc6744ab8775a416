"""Personal API tokens: shown once and kept as a hash, refused when revoked, expired, deactivated or capped (SSO),
counted per token against the rate limit in the shared cache, made on the token page or by create_api_token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from api import tokens
from api.models import ApiToken, Scope
from audit.models import AuditEvent
from sso.models import ExternalIdentity
from tests.api_helpers import FAST_HASHERS, assert_problem, bearer, token_for
from tests.helpers import run_command

DATABASES = "/api/v1/databases"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def test_a_token_is_kept_only_as_its_sha256_and_recognised_by_its_prefix(dba):
    token, plaintext = tokens.issue(dba, "ci", Scope.OPERATE, 90)
    assert re.fullmatch(r"lbt_[A-Za-z0-9_-]{43}", plaintext)
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert plaintext not in [str(v) for v in stored.values()]
    assert stored["token_hash"] == tokens.hash_token(plaintext) and plaintext.startswith(stored["prefix"])
    event = AuditEvent.objects.get(action="api_token.created")
    assert event.details["name"] == "ci" and event.details["scope"] == "operate" and plaintext not in str(
        event.details)


@pytest.mark.parametrize("header", [None, "Basic ZGFuYTpwdw==", "Bearer", "Bearer lbt_not-a-real-token",
                                    "Bearer ghp_someoneelsestoken"])
def test_no_token_or_an_unknown_one_is_401_problem(client, db, header):
    response = client.get(DATABASES, **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_users_token_stops_working_at_once(client, dba):
    plaintext = token_for(dba, Scope.READ)
    assert client.get(DATABASES, **bearer(plaintext)).status_code == 200
    dba.is_active = False
    dba.save()
    assert "deactivated" in assert_problem(client.get(DATABASES, **bearer(plaintext)), 401)["detail"]


def test_a_token_never_has_a_wider_scope_than_its_user_may_use(dba, auditor, team_lead, stranger):
    assert tokens.scopes_for(dba) == ["read", "operate"]
    assert tokens.scopes_for(auditor) == ["read", "operate"]  # evidence exports
    assert tokens.scopes_for(team_lead) == ["read"]
    assert tokens.scopes_for(stranger) == []
    with pytest.raises(tokens.TokenRefused, match="may not use a token of scope admin .at most operate"):
        tokens.issue(dba, "too-wide", Scope.ADMIN, 30)
    with pytest.raises(tokens.TokenRefused, match="no role"):
        tokens.issue(stranger, "nothing", Scope.READ, 30)


def test_expiry_is_bounded_and_names_are_unique_among_live_tokens(dba, settings):
    settings.LIFEBOAT_API_TOKEN_MAX_DAYS = 100
    with pytest.raises(tokens.TokenRefused, match="1 to 100 days"):
        tokens.issue(dba, "long", Scope.READ, 101)
    token, _ = tokens.issue(dba, "ci", Scope.READ, 100)
    with pytest.raises(tokens.TokenRefused, match="already has a token named 'ci'"):
        tokens.issue(dba, "ci", Scope.READ, 10)
    tokens.revoke(token)
    assert tokens.issue(dba, "ci", Scope.READ, 10)[0].name == "ci"  # the name is free again once revoked


def test_single_sign_on_users_tokens_are_capped_at_LIFEBOAT_OIDC_TOKEN_MAX_DAYS(client, dba, settings):
    settings.LIFEBOAT_OIDC_TOKEN_MAX_DAYS = 30
    kept, plaintext = tokens.issue(dba, "before-sso", Scope.READ, 90)  # a local account: 90 days granted
    ExternalIdentity.objects.create(user=dba, issuer="https://idp.example.test", subject="dana")  # now through the IdP
    with pytest.raises(tokens.TokenRefused, match="1 to 30 days"):
        tokens.issue(dba, "long", Scope.READ, 31)
    assert tokens.effective_expiry(kept) == kept.created_at + timedelta(days=30)
    ApiToken.objects.filter(pk=kept.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert "expired" in assert_problem(client.get(DATABASES, **bearer(plaintext)), 401)["detail"]


def test_a_local_account_without_a_password_is_not_capped_as_single_sign_on(dba, settings):
    settings.LIFEBOAT_OIDC_TOKEN_MAX_DAYS = 7
    dba.set_unusable_password()
    dba.save()
    assert tokens.max_days_for(dba) == settings.LIFEBOAT_API_TOKEN_MAX_DAYS
    ExternalIdentity.objects.create(user=dba, issuer="https://idp.example.test", subject="dana")
    dba.refresh_from_db()
    assert tokens.max_days_for(dba) == 7


def test_last_use_is_recorded(client, dba):
    token, plaintext = tokens.issue(dba, "ci", Scope.READ, 30)
    assert token.last_used_at is None
    client.get(DATABASES, **bearer(plaintext))
    token.refresh_from_db()
    assert token.last_used_at is not None and timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_over_the_rate_limit_is_429_with_retry_after_counted_per_token(client, dba, settings):
    settings.LIFEBOAT_API_RATE_LIMIT = 3
    import time_machine

    busy, other = token_for(dba, Scope.READ, name="busy"), token_for(dba, Scope.READ, name="other")
    with time_machine.travel(timezone.now(), tick=False) as clock:  # no minute boundary between the calls
        assert [client.get(DATABASES, **bearer(busy)).status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get(DATABASES, **bearer(busy))
        assert "3 calls a minute" in assert_problem(refused, 429)["detail"]
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert client.get(DATABASES, **bearer(other)).status_code == 200
        clock.shift(int(refused["Retry-After"]))  # the next window opens when Retry-After said
        assert client.get(DATABASES, **bearer(busy)).status_code == 200


def test_without_redis_the_count_is_kept_in_the_database_cache_table(dba, settings):
    from django.core.cache.backends.db import DatabaseCache

    assert isinstance(caches["default"], DatabaseCache)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lifeboat_cache")
        before = cursor.fetchone()[0]
    from api import ratelimit

    assert ratelimit.over_limit(999_999) is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lifeboat_cache")
        assert cursor.fetchone()[0] == before + 1


def test_with_redis_every_process_counts_the_same_calls(client, dba, settings):
    """The count lives in Redis, where another process (a second web worker) reads and adds to it. Both count
    at one frozen instant, so a minute boundary cannot fall between them."""
    import subprocess
    import sys
    import time
    import uuid

    import redis
    import time_machine

    redis_url = "redis://127.0.0.1:6379/15"
    prefix = f"lbt-test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
                                   "KEY_PREFIX": prefix}}
    settings.LIFEBOAT_API_RATE_LIMIT = 3
    token, plaintext = tokens.issue(dba, "shared", Scope.READ, 30)
    instant = time.time()
    try:
        with time_machine.travel(instant, tick=False):
            assert client.get(DATABASES, **bearer(plaintext)).status_code == 200
        # Another process counts two calls of the same token, straight through ratelimit, at the same instant.
        code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='dashboard.settings'; django.setup();"
                "from django.test import override_settings; from api import ratelimit;"
                f"o = override_settings(CACHES={settings.CACHES!r}, LIFEBOAT_API_RATE_LIMIT=3); o.enable();"
                f"print([ratelimit.over_limit({token.pk}, now={instant!r}) for _ in range(2)])")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip().splitlines()[-1] == "[None, None]"
        with time_machine.travel(instant, tick=False):
            assert_problem(client.get(DATABASES, **bearer(plaintext)), 429)
    finally:
        connection = redis.Redis.from_url(redis_url)
        for key in connection.scan_iter(f"{prefix}:*"):
            connection.delete(key)


def test_the_token_page_shows_a_new_token_once_lists_tokens_and_revokes(client, dba):
    client.force_login(dba)
    page = client.get("/account/tokens/").content.decode()
    for field in ("name", "scope", "days"):
        assert f'<label for="id_{field}">' in page and f'id="id_{field}"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
    assert '<option value="admin"' not in page and '<option value="operate"' in page

    made = client.post("/account/tokens/", {"name": "ci", "scope": "operate", "days": 30})
    plaintext = re.search(r'value="(lbt_[^"]+)"', made.content.decode()).group(1)
    assert made["Cache-Control"] == "no-store"
    assert client.get(DATABASES, **bearer(plaintext)).status_code == 200
    listed = client.get("/account/tokens/").content.decode()
    assert plaintext not in listed and plaintext[:12] in listed and ">active<" in listed

    token = ApiToken.objects.get(name="ci")
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert_problem(client.get(DATABASES, **bearer(plaintext)), 401)
    revoked = AuditEvent.objects.get(action="api_token.revoked")
    assert revoked.actor == "dana-dba" and revoked.details["name"] == "ci"
    assert AuditEvent.objects.get(action="api_token.created").actor == "dana-dba"


def test_nobody_revokes_someone_elses_token(client, dba, auditor):
    token, _ = tokens.issue(auditor, "audit", Scope.READ, 30)
    client.force_login(dba)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_refused_token_on_the_page_says_why_in_one_line(client, dba, settings):
    settings.LIFEBOAT_API_TOKEN_MAX_DAYS = 10
    client.force_login(dba)
    response = client.post("/account/tokens/", {"name": "ci", "scope": "operate", "days": 11})
    assert response.status_code == 400 and "Token not made" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_create_api_token_prints_the_token_as_its_last_word(client, dba):
    code, out, err = run_command("create_api_token", "dana-dba", "--scope", "operate", "--days", "90")
    assert code == 0, err
    plaintext = out.split()[-1]
    token = ApiToken.objects.get(token_hash=tokens.hash_token(plaintext))
    assert token.scope == "operate" and (token.expires_at - token.created_at) == timedelta(days=90)
    assert client.get(DATABASES, **bearer(plaintext)).status_code == 200
    assert AuditEvent.objects.get(action="api_token.created").actor.startswith("os:")


@pytest.mark.parametrize("args, message", [(("nobody",), "no active Lifeboat user"),
                                           (("dana-dba", "--scope", "admin"), "may not use a token of scope admin"),
                                           (("dana-dba", "--days", "0"), "lasts 1 to")])
def test_create_api_token_refuses_in_one_line(dba, args, message):
    code, out, err = run_command("create_api_token", *args)
    assert code == 1 and message in err and "lbt_" not in out
    assert not ApiToken.objects.exists()


def test_a_signed_in_session_opens_nothing_in_the_api(client, dba, learning_db):
    """Only a token does: a browser's session cookie cannot be ridden into an API write (no CSRF to forge)."""
    client.force_login(dba)
    assert_problem(client.post(f"/api/v1/databases/{learning_db.name}/backups"), 401)
    assert_problem(client.get(DATABASES), 401)


def test_every_error_is_a_problem_even_outside_the_endpoints(client, dba):
    plaintext = token_for(dba, Scope.OPERATE)
    assert "openapi.json" in assert_problem(client.get("/api/v1/", **bearer(plaintext)), 404)["detail"]
    assert_problem(client.get("/api/v1/no-such-thing", **bearer(plaintext)), 404)
    assert_problem(client.get("/api/v1/runs/999999", **bearer(plaintext)), 404)
    wrong = client.delete("/api/v1/runs", **bearer(plaintext))
    assert assert_problem(wrong, 405) and wrong["Allow"] == "GET"
    invalid = client.get("/api/v1/runs?status=sleeping", **bearer(plaintext))
    assert assert_problem(invalid, 422)["errors"][0]["field"].endswith("status")
