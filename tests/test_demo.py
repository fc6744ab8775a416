"""`make run`'s path in-process: seed the demo, take one manual backup, see it listed on the dashboard."""

from __future__ import annotations

import uuid

from django.urls import reverse

from backups.models import BackupRun
from dashboard import demo
from tests.helpers import run_command


def test_seeded_demo_is_backed_up_and_listed(db, client, pg_server, backup_root, monkeypatch):
    name = f"lbt_demo_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(demo, "DEMO_DB", name)
    monkeypatch.setenv("LIFEBOAT_DEMO_PG_DSN", pg_server.target.dsn)
    try:
        code, out, err = run_command("seed_demo")
        assert code == 0, err
        assert "demo login: user 'demo'" in out
        password = out.split("password '")[1].split("'")[0]
        assert pg_server.query(name, "SELECT count(*) FROM users")[0][0] == 2000

        code, out, err = run_command("backup", name)
        assert code == 0, err
        run = BackupRun.objects.get()

        signed_in = client.post(reverse("login"), {"username": "demo", "password": password})
        assert signed_in.status_code == 302, "the demo login must sign in"
        page = client.get(reverse("backups:run_list"))
        assert page.status_code == 200
        assert f"#{run.pk}" in page.text and name in page.text
    finally:
        pg_server.drop_database(name)
