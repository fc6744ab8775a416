"""Under the Content-Security-Policy, Chromium refuses nothing on the main pages (overview, a database page with
its charts, history, drills, the admin, two-factor enrolment with its QR code) and the charts still draw in their
colours."""

from __future__ import annotations

from tests.browser.conftest import PASSWORD, sign_in

# Collects every violation the page reports, from the first script on (an init script is not subject to the CSP).
LISTEN = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""

# How many pixels of the chart's first series colour (#0b3954) the image draws: an SVG whose own style was refused
# would draw its lines black.
SERIES_PIXELS = """
(img) => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 11) < 8 && Math.abs(data[i + 1] - 57) < 8 && Math.abs(data[i + 2] - 84) < 8) n++;
  }
  return n;
}
"""


def test_main_pages_and_admin_load_without_a_single_csp_violation(page, served, pg_server):
    from tests.conftest import LEARNING_SCHEMA

    source = pg_server.create_database("lbt_csp_src")
    try:
        with pg_server.connect(source) as conn:
            conn.execute(LEARNING_SCHEMA)
        # A database of its own (sorting after "learning", which other browser tests watch), backed up twice so
        # its page draws real charts.
        served.manage("add_database", "zcsp", "--dsn", pg_server.target.with_dbname(source).dsn)
        served.manage("backup", "zcsp")
        served.manage("backup", "zcsp")
        served.manage("shell", "-c", "from django.contrib.auth.models import Group, User\n"
                      f"u, _ = User.objects.get_or_create(username='ada')\nu.set_password('{PASSWORD}')\nu.save()\n"
                      "u.groups.add(Group.objects.get(name='Admin'))\n")
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.add_init_script(LISTEN)

        sign_in(page, served, "ada")
        visited = {}
        for path in ("/", "/backups/databases/zcsp/", "/backups/", "/drills/", "/drills/history/",
                     "/admin/", "/admin/backups/database/add/", "/account/two-factor/"):
            response = page.goto(served.url + path)
            assert response.status == 200, path
            assert "default-src 'self'" in response.headers["content-security-policy"], path
            page.wait_for_load_state("load")
            visited[path] = page.evaluate("window.__cspViolations")
            if path == "/backups/databases/zcsp/":
                charts = page.locator("figure.chart img.chart-image")
                assert charts.count() >= 2  # size and duration (restore time too once a verification passed)
                for i in range(charts.count()):
                    chart = charts.nth(i)
                    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
                    assert chart.evaluate(SERIES_PIXELS) > 20, "the chart's own style was not applied"

        assert visited == {path: [] for path in visited}
        assert [e for e in console_errors if "Content Security Policy" in e] == []
    finally:
        pg_server.drop_database(source)  # the zcsp row stays, with its runs (the catalog never forgets a run)
