"""Every endpoint with tokens of each role and scope: allowed, refused (403: scope, or the user's role now),
expired and revoked (401). Jobs are queued, not run (the actions' effects are proven in test_api_actions.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest
from django.utils import timezone

from alerts.models import Alert
from api.models import Scope
from backups.models import Artifact, BackupRun, Database, Restore, Tier, Verification
from evidence.models import EvidenceExport
from tests.api_helpers import FAST_HASHERS, assert_problem, bearer, drop_roles, expire, raw_token, revoke, token_for
from tests.drill_helpers import make_drill


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # formatted with the world's ids
    scope: str
    role: str  # a role that may do it (whose token of `scope` is allowed)
    without: str  # a role that may not, even with an admin-scope token if it could have one
    body: dict | None = None
    ok: int = 200


ENDPOINTS = [
    Endpoint("get", "/api/v1/databases", Scope.READ, "Auditor", ""),
    Endpoint("get", "/api/v1/databases/{db}", Scope.READ, "Team lead", ""),
    Endpoint("post", "/api/v1/databases", Scope.ADMIN, "Admin", "DBA",
             body={"name": "created_by_api", "dbname": "created_by_api", "rpo_hours": 12}, ok=201),
    Endpoint("patch", "/api/v1/databases/{db}", Scope.ADMIN, "Admin", "DBA", body={"rpo_hours": 6}),
    Endpoint("get", "/api/v1/runs", Scope.READ, "DBA", ""),
    Endpoint("get", "/api/v1/runs/{run}", Scope.READ, "Auditor", ""),
    Endpoint("post", "/api/v1/databases/{db}/backups", Scope.OPERATE, "DBA", "Auditor", ok=202),
    Endpoint("post", "/api/v1/copies/{copy}/verifications", Scope.OPERATE, "Admin", "Auditor", ok=202),
    Endpoint("post", "/api/v1/copies/{copy}/restores", Scope.OPERATE, "DBA", "Auditor",
             body={"target_database": "lbt_api_restored_never", "tables": ["public.users"]}, ok=202),
    Endpoint("get", "/api/v1/verifications/{verification}", Scope.READ, "DBA", ""),
    Endpoint("get", "/api/v1/restores/{restore}", Scope.READ, "Auditor", ""),
    Endpoint("get", "/api/v1/alerts?state=all", Scope.READ, "Team lead", ""),
    Endpoint("get", "/api/v1/alerts/{alert}", Scope.READ, "DBA", ""),
    Endpoint("get", "/api/v1/drills", Scope.READ, "Team lead", ""),
    Endpoint("get", "/api/v1/drills/{drill}", Scope.READ, "Auditor", ""),
    Endpoint("post", "/api/v1/evidence-exports", Scope.OPERATE, "Auditor", "DBA",
             body={"since": "2026-01-01", "until": "2026-01-31"}, ok=202),
    Endpoint("get", "/api/v1/evidence-exports/{export}", Scope.READ, "Auditor", "DBA"),
    Endpoint("get", "/api/v1/evidence-exports/{export}/download", Scope.READ, "Auditor", "DBA"),
    Endpoint("get", "/api/v1/overview/freshness", Scope.READ, "Admin", ""),
]
IDS = [f"{e.method.upper()} {e.path}" for e in ENDPOINTS]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def world(db, pg_server, make_user, tmp_path, backup_root):
    """One of everything the endpoints read, on the real server (restores ask it which databases it protects)."""
    database = Database.objects.create(name="lbt_api_source", host=pg_server.target.host,
                                       port=pg_server.target.port, user=pg_server.target.user,
                                       dbname="lbt_api_source_absent")
    now = timezone.now()
    run = BackupRun.objects.create(database=database, status=BackupRun.Status.SUCCEEDED, started_at=now,
                                   finished_at=now, size_bytes=10, sha256="0" * 64)
    copy = Artifact.objects.create(run=run, tier=Tier.objects.get(name="local"), location=str(tmp_path / "x.dump"),
                                   size_bytes=10, sha256="0" * 64)
    check = Verification.objects.create(artifact=copy, status=Verification.Status.PASSED)
    restore = Restore.objects.create(artifact=copy, target_database="lbt_api_old_restore",
                                     status=Restore.Status.SUCCEEDED)
    alert = Alert.objects.create(key="api-test", kind="backup_failed", severity="critical", title="Backup failed",
                                 message="pg_dump exited 1", database=database)
    package = tmp_path / "package.zip"
    package.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    export = EvidenceExport.objects.create(requested_by_name="audrey", since=date(2026, 1, 1),
                                           until=date(2026, 1, 31), status=EvidenceExport.Status.DONE,
                                           file_path=str(package), size_bytes=22, sha256="1" * 64)
    drill = make_drill(make_user("lee-lead", "Team lead"), database=database)
    return {"db": database.name, "run": run.pk, "copy": copy.pk, "verification": check.pk, "restore": restore.pk,
            "alert": alert.pk, "drill": drill.pk, "export": export.pk}


def call(client, endpoint: Endpoint, world: dict, plaintext: str | None):
    headers = bearer(plaintext) if plaintext else {}
    path = endpoint.path.format(**world)
    if endpoint.body is None:
        return getattr(client, endpoint.method)(path, **headers)
    return getattr(client, endpoint.method)(path, data=json.dumps(endpoint.body), content_type="application/json",
                                            **headers)


PERSONA = {"DBA": "dana-dba", "Team lead": "terry-lead", "Admin": "ada-admin", "Auditor": "audrey-auditor"}


def persona(make_user, role: str):
    return make_user(PERSONA[role] + "-api", role)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_allowed_with_the_scope_and_a_role_that_may(client, world, make_user, endpoint):
    user = persona(make_user, endpoint.role)
    response = call(client, endpoint, world, token_for(user, endpoint.scope))
    assert response.status_code == endpoint.ok, response.content
    if endpoint.ok == 202:
        body = response.json()
        assert response["Location"] == body["url"] and body["url"].startswith("/api/v1/")
        assert client.get(body["url"], **bearer(token_for(user, Scope.READ, name="poll"))).status_code == 200


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.scope != Scope.READ],
                         ids=[i for e, i in zip(ENDPOINTS, IDS, strict=True) if e.scope != Scope.READ])
def test_refused_403_with_a_narrower_scope_even_when_the_role_may(client, world, make_user, endpoint):
    user = persona(make_user, endpoint.role)
    narrower = Scope.READ if endpoint.scope == Scope.OPERATE else Scope.OPERATE
    body = assert_problem(call(client, endpoint, world, token_for(user, narrower)), 403)
    assert f"scope {endpoint.scope}" in body["detail"]


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.without],
                         ids=[i for e, i in zip(ENDPOINTS, IDS, strict=True) if e.without])
def test_refused_403_when_the_role_may_not_whatever_the_scope(client, world, make_user, endpoint):
    """A token of the right scope (stored as if made when the user's role was wider) is refused by the role."""
    user = persona(make_user, endpoint.without)
    body = assert_problem(call(client, endpoint, world, raw_token(user, endpoint.scope)), 403)
    assert "may not do this now" in body["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_refused_403_once_the_user_lost_the_role(client, world, make_user, endpoint):
    user = persona(make_user, endpoint.role)
    plaintext = token_for(user, endpoint.scope)
    drop_roles(user)
    assert_problem(call(client, endpoint, world, plaintext), 403)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_expired_and_revoked_tokens_401(client, world, make_user, endpoint):
    user = persona(make_user, endpoint.role)
    expired, revoked = token_for(user, endpoint.scope, name="old"), token_for(user, endpoint.scope, name="gone")
    expire(expired)
    revoke(revoked)
    assert "expired" in assert_problem(call(client, endpoint, world, expired), 401)["detail"]
    assert "revoked" in assert_problem(call(client, endpoint, world, revoked), 401)["detail"]
    assert "Bearer" in assert_problem(call(client, endpoint, world, None), 401)["detail"]
