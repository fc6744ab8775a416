"""Each role's main path through the dashboard in a real browser, asserting what a person sees, with a screenshot of
every Lifeboat page at 1440 and 390 px (var/screenshots/), axe-core on each (no serious or critical violation), no
sideways scroll on a phone for the overview, history and drill pages, and no Content-Security-Policy violation."""

from __future__ import annotations

import re

from tests.browser.conftest import sign_in
from tests.browser.walk import look, visit

RED = "rgb(253, 226, 225)"  # the failure background (static/css/lifeboat.css)


def no_problems(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_a_dba_sees_what_is_wrong_and_starts_a_backup(page, served, seeded):
    sign_in(page, served, "dana")
    problems = look(page, "overview", no_sideways_scroll=True)

    verdict = page.locator(".verdict").inner_text()
    assert re.search(r"\d+ problem", verdict), verdict  # the one-line answer to "Are we safe?"
    broken = page.locator("tr[data-database=payroll] td[data-state=verification-failed]")
    assert broken.count() == 1 and "Newest copy failed verification" in broken.inner_text()
    assert broken.evaluate("el => getComputedStyle(el).backgroundColor") == RED
    failing = page.locator("tr[data-database=reports] td[data-state=failing]")
    assert "Failing since" in failing.inner_text() and "3 attempts" in failing.inner_text()
    assert failing.evaluate("el => getComputedStyle(el).backgroundColor") == RED

    page.click("nav >> text=Backups")
    page.wait_for_url(re.compile(r"/backups/$"))
    problems += look(page, "history", no_sideways_scroll=True)
    failed = page.locator("table.runs tr[data-status=failed]")
    assert failed.count() == 3 and "✗ Failed" in failed.first.inner_text()
    assert failed.first.locator("td").first.evaluate("el => getComputedStyle(el).backgroundColor") == RED
    assert page.locator("th[aria-sort]").inner_text().startswith("Started (UTC) ▼")
    page.click("th >> text=Database")
    page.wait_for_selector("th[aria-sort=ascending]:has-text('Database ▲')")
    page.goto(f"{served.url}/backups/?since=2030-01-02&until=2030-01-01")
    assert "is after “Until”" in page.inner_text("[data-inverted-range]")

    problems += visit(page, f"{served.url}/backups/runs/{seeded['payroll_run']}/", "run")
    assert page.get_by_label("Into a new database").count() == 1  # labelled, not placeholder-only
    problems += visit(page, f"{served.url}/backups/databases/payroll/", "database")
    problems += visit(page, f"{served.url}/backups/tiers/", "tiers")
    problems += visit(page, f"{served.url}/backups/tiers/{seeded['tier']}/", "tier")

    # "Apply retention now" asks first, and cancelling it sends nothing.
    posted, asked = [], []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("button:has-text('Apply retention now')")
    page.reload()
    assert asked and asked[0].startswith("Apply retention to local now?")
    assert not posted

    problems += visit(page, f"{served.url}/alerts/", "alerts")
    problems += visit(page, f"{served.url}/alerts/{seeded['alert']}/", "alert")

    # Start a backup of payroll from the overview: queued, said in a message that goes away, run page follows it.
    page.goto(f"{served.url}/")
    page.click("tr[data-database=payroll] button:has-text('Back up now')")
    page.wait_for_url(re.compile(r"/backups/runs/\d+/$"))
    assert "by dana" in page.inner_text("dl.facts")  # credited to who pressed the button
    page.wait_for_selector(".messages .message", state="detached", timeout=30_000)  # good news hides itself
    page.wait_for_selector("dd.status-failed", timeout=60_000)  # its source does not exist: the page says so
    assert page.locator("dd.error").inner_text()
    no_problems(problems)


def test_a_team_lead_cannot_sign_their_own_drill_and_the_named_approver_can(page, served, seeded):
    sign_in(page, served, "terry")
    page.click("nav >> text=Drills")
    problems = look(page, "drills", no_sideways_scroll=True)
    page.click("text=Schedule a drill")
    problems += look(page, "drill-schedule", no_sideways_scroll=True)
    for path, name in [("history/", "drill-history"), ("contacts/", "contacts"), ("scenarios/", "scenarios"),
                       ("scenarios/accidental-deletion/", "scenario")]:
        problems += visit(page, f"{served.url}/drills/{path}", name, no_sideways_scroll=True)

    # Confirmation dialogs: cancelling "Complete drill" leaves the drill as it was.
    open_drill = f"{served.url}/drills/{seeded['open_drill']}/"
    problems += visit(page, open_drill, "drill", no_sideways_scroll=True)
    status = page.locator("h1 [data-status]").get_attribute("data-status")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("button:has-text('Complete drill')")
    page.reload()
    assert asked == ["Complete the drill? Its restored database is dropped."]
    assert page.locator("h1 [data-status]").get_attribute("data-status") == status

    signable = f"{served.url}/drills/{seeded['signable_drill']}/"
    problems += visit(page, signable, "drill-completed", no_sideways_scroll=True)
    assert page.locator("button:has-text('Sign off')").count() == 0  # the lead who ran it never approves it
    assert "Waiting for the named approver, alex" in page.inner_text("main")

    page.click("button:has-text('Sign out')")
    sign_in(page, served, "alex")
    page.goto(signable)
    page.get_by_label("Statement").fill("Reviewed the record; the restore was proven.")
    page.click("button:has-text('Sign off')")
    page.wait_for_selector("h1 [data-status=signed_off]")
    problems += look(page, "drill-signed", no_sideways_scroll=True)
    no_problems(problems)


def test_an_admin_reaches_the_admin_pages(page, served, seeded):
    sign_in(page, served, "ada")
    page.click("nav >> text=Admin")
    page.wait_for_url(re.compile(r"/admin/$"))
    assert "Site administration" in page.inner_text("body")
    page.click("text=Users")
    page.wait_for_url(re.compile(r"/admin/auth/user/$"))
    assert page.locator("#result_list").count() == 1 and "audrey" in page.inner_text("#result_list")

    # Replacing production asks twice: its name typed again, and a dialog; a wrong name replaces nothing.
    page.goto(f"{served.url}/backups/runs/{seeded['payroll_run']}/")
    page.click("summary:has-text('Replace production')")
    problems = look(page, "run-replace")
    page.get_by_label("to confirm").fill("payroll")  # the name shown, not the database's real name
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("button:has-text('Replace production')")
    page.wait_for_selector(".messages .message.error")
    assert asked and asked[0].startswith("Replace production lbt_walk_payroll_absent")
    assert "type the database's name, lbt_walk_payroll_absent, exactly" in page.inner_text(".messages")
    page.click(".messages .message.error [data-dismiss]")  # an error stays until dismissed
    assert page.locator(".messages .message").count() == 0

    # The error pages wear the site's layout, with the reason and a way back.
    page.goto(f"{served.url}/no-such-page/")
    problems += look(page, "404")
    assert page.locator("nav[aria-label=Main]").count() == 1
    no_problems(problems)


def test_an_auditor_reads_the_audit_trail_and_the_evidence(page, served, seeded):
    page.goto(f"{served.url}/accounts/login/")
    problems = look(page, "login")
    sign_in(page, served, "audrey")
    page.click("nav >> text=Audit trail")
    page.wait_for_url(re.compile(r"/audit/"))
    problems += look(page, "audit-trail", no_sideways_scroll=True)
    assert "terry" in page.inner_text("main")  # the lead's drill actions are credited to the lead
    page.click("nav >> text=Evidence")
    page.wait_for_url(re.compile(r"/evidence/$"))
    problems += look(page, "evidence", no_sideways_scroll=True)
    problems += visit(page, f"{served.url}/evidence/population/", "evidence-population", no_sideways_scroll=True)
    page.click("button:has-text('Show')")
    page.get_by_label("Samples").fill("2")
    page.click("button:has-text('Draw')")
    page.wait_for_url(re.compile(r"/evidence/samples/\d+/$"))
    problems += look(page, "evidence-sample", no_sideways_scroll=True)
    page.goto(f"{served.url}/drills/new/")  # an auditor may not schedule: 403 in the layout
    problems += look(page, "403")
    assert page.locator("nav[aria-label=Main]").count() == 1
    no_problems(problems)
