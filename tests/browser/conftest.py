"""The product served as production serves it (bin/serve: gunicorn + whitenoise + a real django-q2 cluster),
on a throwaway SQLite and backup directory, driven by Playwright through Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = os.environ.get("LIFEBOAT_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery"


@dataclass
class Served:
    url: str
    env: dict[str, str]
    source_db: str

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=self.env, check=True,
                              capture_output=True, text=True).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, env: dict[str, str], var: Path) -> subprocess.Popen:
    """bin/serve (gunicorn + the django-q2 cluster) with this environment, once it answers on url."""
    server = subprocess.Popen([str(ROOT / "bin" / "serve")], env=env, cwd=ROOT, start_new_session=True,
                              stdout=open(var / "serve.log", "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)
            return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                stop_server(server)
                raise RuntimeError("bin/serve did not come up:\n" + (var / "serve.log").read_text()[-3000:]) from None
            time.sleep(0.3)


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: bin/test-setup installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="session")
def served(tmp_path_factory, pg_server) -> Iterator[Served]:
    require_chromium()
    from tests.conftest import LEARNING_SCHEMA

    var = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {**os.environ, "LIFEBOAT_VAR_DIR": str(var), "LIFEBOAT_BACKUP_ROOT": str(var / "backups"),
           "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_WORKERS": "1", "WEB_WORKERS": "2",
           "BIND": f"127.0.0.1:{port}"}
    for key in ("DATABASE_URL", "REDIS_URL", "DEBUG"):
        env.pop(key, None)
    source = pg_server.create_database("lbt_browser")
    with pg_server.connect(source) as conn:
        conn.execute(LEARNING_SCHEMA)
    served = Served(f"http://127.0.0.1:{port}", env, source)
    served.manage("migrate", "-v0")
    served.manage("collectstatic", "--noinput", "-v0")
    served.manage("add_database", "learning", "--dsn", pg_server.target.with_dbname(source).dsn)
    served.manage("shell", "-c", "from django.contrib.auth.models import Group, User\n"
                  "for name, group in [('dana', 'DBA'), ('terry', 'Team lead'), ('pat', 'DBA'),\n"
                  "                    ('alex', 'Team lead')]:\n"
                  f"    u = User.objects.create_user(name, password='{PASSWORD}')\n"
                  "    u.groups.add(Group.objects.get(name=group))\n")
    server = start_server(served.url, env, var)
    try:
        yield served
    finally:
        stop_server(server)
        # A verification the stopped cluster was still running leaves its scratch database (in production the
        # hourly sweep drops it); drop exactly the ones this served app recorded.
        scratch = served.manage("shell", "-c", "from backups.models import Verification\n"
                                "print(' '.join(Verification.objects.exclude(scratch_database='')"
                                ".values_list('scratch_database', flat=True)))").split()
        for name in [source, *scratch]:
            pg_server.drop_database(name)
        OUTPUT.mkdir(exist_ok=True)
        shutil.copy(var / "serve.log", OUTPUT / "serve.log")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def sign_in(page, served: Served, username: str) -> None:
    page.goto(f"{served.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{served.url}/")
