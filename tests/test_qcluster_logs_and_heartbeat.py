"""Through a real django-q2 cluster: the heartbeat task makes /healthz green, and LOG_FORMAT=json logs let an
operator follow one backup by its run id in the cluster's own output."""

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

HEALTHZ = ("from django.test.utils import setup_test_environment; setup_test_environment(); "
           "from django.test import Client; print(Client().get('/healthz').status_code)")


@pytest.mark.slow
def test_real_cluster_beats_for_healthz_and_logs_runs_as_json(tmp_path, pg_server, make_source_db):
    from tests.conftest import LEARNING_SCHEMA

    source = make_source_db(LEARNING_SCHEMA, prefix="lbt_qclog")
    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(tmp_path / "var"), "LIFEBOAT_BACKUP_ROOT": str(tmp_path / "b"),
           "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_WORKERS": "1", "LOG_FORMAT": "json",
           "LIFEBOAT_VERIFY_AFTER_BACKUP": "0"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args: str) -> str:
        return subprocess.run([*manage, *args], env=env, check=True, capture_output=True, text=True).stdout

    def last_line(code: str) -> str:
        return run("shell", "-c", code).strip().splitlines()[-1]

    run("migrate", "-v0")
    run("add_database", "qc", "--dsn", pg_server.target.with_dbname(source).dsn)
    assert last_line(HEALTHZ) == "503"  # no cluster has run yet
    queued = json.loads(run("backup", "qc", "--queue", "--json"))
    last_line("from django_q.tasks import async_task; print(async_task('alerts.tasks.heartbeat'))")

    cluster = subprocess.Popen([*manage, "qcluster"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        status, health = "queued", "503"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (status in ("queued", "running") or health != "200"):
            time.sleep(0.5)
            status = last_line("from backups.models import BackupRun; "
                               f"print(BackupRun.objects.get(pk={queued['id']}).status)")
            health = last_line(HEALTHZ)
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    output = cluster.stderr.read().decode()
    assert status == "succeeded" and health == "200", output[-3000:]
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    followed = [line["message"] for line in lines if line.get("run_id") == queued["id"]]
    assert followed[0] == "backup started" and followed[-1] == "backup succeeded", followed
    assert any(m.startswith("dumped ") for m in followed)
