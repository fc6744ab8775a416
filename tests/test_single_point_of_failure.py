"""A single point of failure is shown (issue 19, part 5): the default layout keeps Lifeboat's database and every
tier on one filesystem; the overview and `manage.py check --tag lifeboat` say so until an off-host tier exists."""

from __future__ import annotations

from backups.catalog.single_point import single_point_of_failure
from backups.models import Tier
from tests.helpers import run_command


def sqlite_at(path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def test_database_and_every_tier_on_one_filesystem_is_named(local_tier, tmp_path):
    warning = single_point_of_failure(own=sqlite_at(tmp_path / "lifeboat.sqlite3"))
    assert "Single point of failure" in warning and "local" in warning and "off-host" in warning


def test_an_off_host_tier_or_a_remote_database_is_no_single_point(local_tier, s3_tier, tmp_path):
    assert single_point_of_failure(own=sqlite_at(tmp_path / "lifeboat.sqlite3")) == ""
    Tier.objects.filter(pk=s3_tier.pk).update(enabled=False)
    assert single_point_of_failure(own={"ENGINE": "django.db.backends.postgresql", "HOST": "db.internal"}) == ""
    assert "same machine" in single_point_of_failure(
        own={"ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1"})


def test_the_overview_and_manage_py_check_say_so(local_tier, client, dba, settings, tmp_path, monkeypatch):
    from backups.catalog import own_database

    monkeypatch.setattr(own_database, "own_settings", lambda: sqlite_at(tmp_path / "lifeboat.sqlite3"))
    client.force_login(dba)
    assert "Single point of failure" in client.get("/").content.decode()
    code, out, err = run_command("check", "--tag", "lifeboat")
    assert "lifeboat.W003" in out + err and "Single point of failure" in out + err
