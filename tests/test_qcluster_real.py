"""One end-to-end run through a real django-q2 cluster: queue -> ORM broker -> worker -> pipeline -> succeeded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_queued_backup_is_taken_by_a_real_qcluster(tmp_path, pg_server, make_source_db):
    from tests.conftest import LEARNING_SCHEMA

    source = make_source_db(LEARNING_SCHEMA, prefix="lbt_qcluster")
    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(tmp_path / "var"), "LIFEBOAT_BACKUP_ROOT": str(tmp_path / "b"),
           "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_WORKERS": "1",
           # the cluster is stopped as soon as the backup ends: a verification it started would leave its scratch
           "LIFEBOAT_VERIFY_AFTER_BACKUP": "0"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args: str) -> str:
        return subprocess.run([*manage, *args], env=env, check=True, capture_output=True, text=True).stdout

    run("migrate", "-v0")
    run("add_database", "qc", "--dsn", pg_server.target.with_dbname(source).dsn)
    queued = json.loads(run("backup", "qc", "--queue", "--json"))
    assert queued["status"] == "queued"

    cluster = subprocess.Popen([*manage, "qcluster"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        status = "queued"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and status in ("queued", "running"):
            time.sleep(0.5)
            status = run("shell", "-c",
                         f"from backups.models import BackupRun; print(BackupRun.objects.get(pk={queued['id']}).status)"
                         ).strip().splitlines()[-1]
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    assert status == "succeeded", cluster.stderr.read().decode()[-3000:]
    assert list((tmp_path / "b").glob("qc_backup_*.dump.zst"))
