"""The API as production serves it (gunicorn, whitenoise, a real qcluster): the README's curl script backs up and
waits; the run is on the dashboard's history; the API's docs page works under `default-src 'self'`."""

from __future__ import annotations

import re
import subprocess

from tests.browser.conftest import OUTPUT, sign_in
from tests.conftest import LEARNING_SCHEMA
from tests.test_api_openapi import api_section

CSP = "default-src 'self'"


def readme_script() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", api_section(), flags=re.S)
    return next(block for block in blocks if block.startswith("#!/bin/sh"))


def test_the_readme_curl_script_backs_up_and_waits_and_the_dashboard_shows_that_run(page, served, pg_server,
                                                                                     tmp_path):
    source = pg_server.create_database("lbt_api_served")
    try:
        with pg_server.connect(source) as conn:
            conn.execute(LEARNING_SCHEMA)
        served.manage("add_database", "zz_api_source", "--dsn", pg_server.target.with_dbname(source).dsn)
        token = served.manage("create_api_token", "dana", "--scope", "operate", "--days", "90").split()[-1]
        script = tmp_path / "backup-before-migration"
        script.write_text(readme_script())
        done = subprocess.run(["sh", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={"PATH": "/usr/bin:/bin", "LIFEBOAT_URL": served.url, "LIFEBOAT_TOKEN": token,
                                   "DB": "zz_api_source"})
        assert done.returncode == 0, done.stdout + done.stderr
        run_path = re.search(r"run (/api/v1/runs/(\d+)) succeeded", done.stdout)
        assert run_path, done.stdout
        run_id = run_path.group(2)

        sign_in(page, served, "dana")
        page.goto(f"{served.url}/backups/?database=zz_api_source")
        link = page.locator(f'a[href="/backups/runs/{run_id}/"]')
        assert link.count() >= 1
        link.first.click()
        page.wait_for_selector("dd.status-succeeded")
        assert "dana" in page.content()
    finally:
        pg_server.drop_database(source)


def test_the_api_docs_work_under_a_strict_content_security_policy(page, served):
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    def with_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})

    page.route(f"{served.url}/api/v1/docs", with_csp)
    page.goto(f"{served.url}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() == 19
    assert "Lifeboat API" in page.inner_text("body")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "api-docs.png"))
    assert violations == []
