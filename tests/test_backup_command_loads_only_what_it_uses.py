"""`manage.py backup` to a local tier starts fast because it imports only what that backup uses: no AWS SDK, no
chart library, no notification library, no evidence signing, and no URL conf (the web layer); what the apps'
ready() register (signal receivers, panels, checks, the admin modules) imports its work when it is used; and the
garbage collector waits until the apps are loaded (core/startup.py). The time it takes is measured by
bench/cli_start_bench.py; this guards the imports that made it slow."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from core import startup
from tests.helpers import LifeboatProcess

ROOT = Path(__file__).resolve().parent.parent
NOT_FOR_A_LOCAL_BACKUP = ("boto3", "botocore", "s3transfer", "pygal", "apprise", "minisign", "dashboard.urls",
                          "backups.web.views", "ninja", "pydantic", "segno", "mozilla_django_oidc", "requests")
# Registered by the apps' ready() through thin functions, or used by a backup only once pg_dump has started: none
# is loaded by the time a job command starts its work (`backup --help` loads the apps and the command's module).
NOT_AT_START_UP = ("alerts.engine", "alerts.rules", "alerts.delivery", "drills.panels", "drills.plan_check",
                   "backups.catalog.selfbackup", "backups.catalog.manifest", "backups.reaper", "dashboard.middleware",
                   "dashboard.two_factor.devices", "django.contrib.auth.views", "sso.checks", "sso.config",
                   # the admin modules: discovered by the URL conf or the admin's checks (core.admin_config.AdminConfig)
                   "core.admin", "backups.admin", "drills.admin", "django.contrib.auth.admin",
                   "django.contrib.auth.forms", "django_otp.admin")
# Runs manage.py as `python manage.py ...` would, and names every module loaded by the end (`-X importtime` would
# miss those loaded through importlib.import_module, such as the URL conf).
RUNNER = """
import atexit, json, runpy, sys
atexit.register(lambda: print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = sys.argv[1:]
sys.path.insert(0, sys.argv[0].rpartition("/")[0])
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def manage_with_modules(lb: LifeboatProcess, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc = subprocess.run([lb.manage[0], "-c", RUNNER, *lb.manage[1:], *args], env=lb.env, cwd=ROOT,
                          capture_output=True, text=True)
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES=")][-1]
    return proc, set(json.loads(line[len("MODULES="):]))


def test_a_local_backup_imports_no_cloud_chart_notification_or_web_module(tmp_path, pg_server, make_source_db):
    lb = LifeboatProcess(tmp_path)
    lb.run("migrate", "-v0")
    source = make_source_db("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g", prefix="lbt_imports")
    lb.run("add_database", "src", "--dsn", pg_server.target.with_dbname(source).dsn)

    proc, modules = manage_with_modules(lb, "backup", "src")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "succeeded" in proc.stdout
    assert "backups.engine.pipeline" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_FOR_A_LOCAL_BACKUP or m in NOT_FOR_A_LOCAL_BACKUP)
    assert loaded == []


def test_a_job_command_runs_lifeboats_checks_without_importing_the_web_layer(tmp_path):
    lb = LifeboatProcess(tmp_path)
    lb.run("migrate", "-v0")
    lb.backup_root.mkdir(exist_ok=True)
    lb.backup_root.chmod(0o755)  # a directory others can read: Lifeboat's own check warns about it

    proc, modules = manage_with_modules(lb, "apply_retention", "--dry-run")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lifeboat.W002" in proc.stderr
    assert "dashboard.urls" not in modules


def test_the_apps_load_without_what_only_later_work_uses(tmp_path):
    lb = LifeboatProcess(tmp_path)

    proc, modules = manage_with_modules(lb, "backup", "--help")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "backups.engine.pipeline" in modules and "backups.models" in modules
    assert sorted(m for m in NOT_AT_START_UP if m in modules) == []
    # ...and what they registered still works: the single sign-on check runs when the checks do
    check = subprocess.run([*lb.manage, "check", "--tag", "security"], env={**lb.env, "LIFEBOAT_LOCAL_SIGN_IN": (
        "break-glass")}, cwd=ROOT, capture_output=True, text=True)
    assert "sso.E003" in check.stderr


def test_the_garbage_collector_runs_again_once_the_apps_are_loaded(tmp_path):
    lb = LifeboatProcess(tmp_path)
    lb.run("migrate", "-v0")

    assert lb.value("[gc.isenabled(), gc.get_freeze_count() > 10_000]", setup="import gc") == [True, True]


def test_resuming_the_collector_leaves_a_process_that_never_paused_it_alone(monkeypatch):
    import gc

    monkeypatch.setattr(startup, "_paused", False)
    frozen = gc.get_freeze_count()
    gc.disable()  # e.g. a process that turned it off for its own reasons: not ours to turn back on
    try:
        startup.resume_gc()
        assert not gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        gc.enable()
    startup.pause_gc()
    assert not gc.isenabled()
    startup.resume_gc()
    assert gc.isenabled() and gc.get_freeze_count() >= frozen
    gc.unfreeze()
