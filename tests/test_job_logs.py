"""Every job logs structured lines carrying its run id (JSON on demand); the run's own log is on its page."""

from __future__ import annotations

import io
import json
import logging

import pytest

from backups.engine import pipeline
from backups.models import BackupRun
from core import joblog


@pytest.fixture
def json_log():
    """The handler LOG_FORMAT=json configures, on the root logger, writing into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(joblog.JobContextFilter())
    handler.setFormatter(joblog.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_backup_can_be_followed_by_its_run_id_in_json_logs(learning_db, local_tier, settings, json_log):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    lines = [line for line in json_log() if line.get("run_id") == run.pk]
    messages = [line["message"] for line in lines]
    assert messages[0] == "backup started" and messages[-1] == "backup succeeded"
    assert any(m.startswith("dumped ") for m in messages) and any("tier local: stored" in m for m in messages)
    assert all(line["job"] == "backup" and line["database"] == learning_db.name for line in lines)
    assert {"time", "level", "logger"} <= set(lines[0])


def test_a_failed_backup_logs_its_error_under_its_run_id(db, backup_root, json_log):
    from backups.models import Database

    database = Database.objects.create(name="unreachable", host="127.0.0.1", port=1, dbname="x")
    run = pipeline.backup(database)
    assert run.status == BackupRun.Status.FAILED
    failed = [line for line in json_log() if line.get("run_id") == run.pk and line["message"].startswith("FAILED")]
    assert len(failed) == 1 and "cannot connect" in failed[0]["message"]


def test_plain_lines_carry_the_job_fields_too():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with joblog.job("backup", run_id=42, database="dsa_learning"):
        joblog.JobContextFilter().filter(record)
    formatted = logging.Formatter("%(job_fields)s%(message)s").format(record)
    assert formatted == "job=backup run_id=42 database=dsa_learning hello"


def test_the_run_page_shows_the_runs_own_log(client, admin_user, learning_db, local_tier, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    client.force_login(admin_user)
    page = client.get(run.get_absolute_url()).text
    assert "<h2>Log</h2>" in page and "tier local: stored" in page and run.log.splitlines()[0][:21] in page
