"""A DBA signs in, sees the matrix, backs up now and watches the run finish without reloading the page."""

from __future__ import annotations

import re

from tests.browser.conftest import OUTPUT, sign_in


def test_dba_backs_up_from_the_overview_and_watches_it_finish(page, served):
    sign_in(page, served, "dana")
    matrix = page.locator("table.matrix")
    assert "learning" in matrix.inner_text()
    assert matrix.locator("td[data-status=never]").count() >= 1

    page.click("text=Back up now")
    page.wait_for_url(re.compile(r"/backups/runs/\d+/$"))
    page.evaluate("window.__sameDocument = true")  # survives only if the page is never reloaded
    page.wait_for_selector("dd.status-succeeded", timeout=60_000)
    assert page.evaluate("window.__sameDocument === true")
    page.wait_for_selector("text=public.users", timeout=60_000)  # the verification's counts arrive by polling too

    page.click("text=Overview")
    page.wait_for_selector("td[data-status=ok]")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "overview.png"), full_page=True)
    assert "verified" in page.locator("td[data-status=ok]").first.inner_text()
