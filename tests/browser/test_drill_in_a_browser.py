"""A team lead runs a DR drill end to end: schedule, tick items, run the real restore; the named approver (another
Team lead) signs it off; see it charted."""

from __future__ import annotations

import re

from tests.browser.conftest import OUTPUT, sign_in


def test_team_lead_runs_a_drill_end_to_end(page, served, pg_server):
    # A source of its own (named to sort after "learning"), so the shared server's "learning" stays untouched.
    from tests.conftest import LEARNING_SCHEMA

    source = pg_server.create_database("lbt_drill_src")
    restored = []
    try:
        with pg_server.connect(source) as conn:
            conn.execute(LEARNING_SCHEMA)
        served.manage("add_database", "zdrill", "--dsn", pg_server.target.with_dbname(source).dsn)
        served.manage("backup", "zdrill")  # a good backup for the drill to restore
        sign_in(page, served, "terry")
        page.click("nav >> text=Drills")
        page.click("text=Schedule a drill")
        page.select_option("select[name=scenario]", label="Server failure")
        page.select_option("select[name=database]", label="zdrill")
        page.select_option("select[name=scribe]", label="dana")
        page.select_option("select[name=approver]", label="alex")
        page.click("button:has-text('Schedule drill')")
        page.wait_for_url(re.compile(r"/drills/\d+/$"))
        assert "Planned" in page.inner_text("h1")

        row = page.locator("tr[data-step='4']")
        row.locator("input[name=notes]").fill("app started against the restored copy")
        row.locator("button:has-text('Tick')").click()
        page.wait_for_selector("tr[data-step='4'][data-status='done']")
        assert "app started against the restored copy" in page.inner_text("tr[data-step='4']")

        page.click("button:has-text('Restore the latest backup')")
        page.wait_for_selector("[data-restore-status]")
        page.evaluate("window.__sameDocument = true")  # progress arrives by polling, not by reloading
        page.wait_for_selector("[data-restore-status=succeeded]", timeout=90_000)
        assert page.evaluate("window.__sameDocument === true")
        restored += re.findall(r"lifeboat_drill_\d+_[0-9a-f]{8}", page.inner_text("#live"))
        page.wait_for_selector("[data-integrity]")
        assert "100% data integrity" in page.inner_text("#live")
        page.wait_for_selector("tr[data-step='3'][data-status='done']")  # ticked by the measurement itself
        pending = page.locator("tr[data-status='pending']")
        for position in [pending.nth(i).get_attribute("data-step") for i in range(pending.count())]:
            page.locator(f"tr[data-step='{position}'] button:has-text('Tick')").click()
            page.wait_for_selector(f"tr[data-step='{position}'][data-status='done']")

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Complete drill')")
        page.wait_for_selector("h1 [data-status=completed]")
        assert page.locator("[data-result]").get_attribute("data-result") == "pass"

        assert page.locator("button:has-text('Sign off')").count() == 0  # the lead who ran it never approves it
        assert "Waiting for the named approver, alex" in page.inner_text("main")
        drill_url = page.url
        page.click("button:has-text('Sign out')")
        sign_in(page, served, "alex")
        page.goto(drill_url)
        page.fill("textarea[name=statement]", "Restore proven; recovered well inside the RTO.")
        page.click("button:has-text('Sign off')")
        page.wait_for_selector("h1 [data-status=signed_off]")
        assert "the record still matches" in page.inner_text("#signoff")
        assert page.locator("button:has-text('Tick')").count() == 0  # locked
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "drill-signed.png"), full_page=True)

        page.click("text=Recovery-time history")
        page.wait_for_url(re.compile(r"/drills/history/"))  # a busy machine: wait for the page, not a guess
        chart = page.locator("section[data-scenario=server-failure]")
        image = chart.locator("img.chart-image")
        assert image.count() == 1 and image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert "RTO" in image.get_attribute("alt")
        page.screenshot(path=str(OUTPUT / "drill-history.png"), full_page=True)
    except Exception:
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "drill-failure.png"), full_page=True)
        raise
    finally:
        for name in [*restored, source]:
            pg_server.drop_database(name)
