"""Looking at a page as a person would, at a desktop and a phone width: a screenshot of each (var/screenshots/),
axe-core's accessibility rules (no serious or critical violation), no sideways scroll on a phone where asked, and
no Content-Security-Policy violation. Problems are collected, so one walk reports every page's at once."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
# axe-core from npm (tests/browser/package.json, installed by bin/test-setup with `npm ci`), never from a CDN.
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP, PHONE = 1440, 390

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n")[1]),
  }));
}"""
SIDEWAYS = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def _inject_axe(page) -> None:
    if page.evaluate("typeof window.axe") != "undefined":
        return
    from playwright.sync_api import Error

    try:
        page.add_script_tag(path=str(AXE))
    except Error:
        # A strict CSP blocks the inline <script> add_script_tag writes; Playwright's evaluate is not subject
        # to it, so axe goes in that way, and the violation our own injection caused is forgotten below.
        page.evaluate(AXE.read_text())
    page.evaluate("window.__cspViolations = []")


def look(page, name: str, *, no_sideways_scroll: bool = True) -> list[str]:
    """Every problem a person (or a screen reader) would meet on the page now open, at both widths."""
    if not AXE.exists():
        raise RuntimeError(f"no {AXE}: run bin/test-setup (npm ci in tests/browser)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    problems = [f"{name}: CSP {v}" for v in page.evaluate("window.__cspViolations || []")]
    _inject_axe(page)
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        if no_sideways_scroll and width == PHONE:
            scroll, client = page.evaluate(SIDEWAYS)
            if scroll > client:
                problems.append(f"{name} at {width}px scrolls sideways: {scroll}px of content in {client}px")
        for v in page.evaluate(RUN_AXE):
            problems.append(f"{name} at {width}px: {v['impact']} {v['id']} ({v['help']}): {v['nodes']}")
    page.set_viewport_size({"width": DESKTOP, "height": 900})
    problems += [f"{name}: CSP {v}" for v in page.evaluate("window.__cspViolations || []")]
    return problems


def visit(page, url: str, name: str, **kwargs) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{name}: {url} answered {response and response.status}"
    return look(page, name, **kwargs)
