"""`manage.py backup` to a local tier starts fast because it imports only what that backup uses: no AWS SDK, no
chart library, no notification library, no evidence signing, and no URL conf (the web layer). The time it takes is
measured by bench/cli_start_bench.py; this guards the imports that made it slow."""

from __future__ import annotations

import subprocess

from tests.helpers import LifeboatProcess

NOT_FOR_A_LOCAL_BACKUP = ("boto3", "botocore", "s3transfer", "pygal", "apprise", "minisign", "dashboard.urls",
                          "backups.web.views")


def imported_modules(importtime_log: str) -> set[str]:
    """Module names from `python -X importtime` output ('import time: self | cumulative | name')."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime_log.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def test_a_local_backup_imports_no_cloud_chart_notification_or_web_module(tmp_path, pg_server, make_source_db):
    lb = LifeboatProcess(tmp_path)
    lb.run("migrate", "-v0")
    source = make_source_db("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g", prefix="lbt_imports")
    lb.run("add_database", "src", "--dsn", pg_server.target.with_dbname(source).dsn)

    proc = subprocess.run([lb.manage[0], "-X", "importtime", *lb.manage[1:], "backup", "src"], env=lb.env,
                          capture_output=True, text=True)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "succeeded" in proc.stdout
    modules = imported_modules(proc.stderr)
    assert "backups.engine.pipeline" in modules  # the log is read correctly
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_FOR_A_LOCAL_BACKUP or m in NOT_FOR_A_LOCAL_BACKUP)
    assert loaded == []


def test_a_job_command_runs_lifeboats_checks_without_importing_the_web_layer(tmp_path):
    lb = LifeboatProcess(tmp_path)
    lb.run("migrate", "-v0")
    lb.backup_root.mkdir(exist_ok=True)
    lb.backup_root.chmod(0o755)  # a directory others can read: Lifeboat's own check warns about it

    proc = subprocess.run([lb.manage[0], "-X", "importtime", *lb.manage[1:], "apply_retention", "--dry-run"],
                          env=lb.env, capture_output=True, text=True)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lifeboat.W002" in proc.stderr
    assert "dashboard.urls" not in imported_modules(proc.stderr)
