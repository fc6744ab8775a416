"""The Content-Security-Policy: on every page (admin included) with its directives, and no page the product or its
admin renders carries an inline script, event handler, javascript: URL or inline style, which the policy would
refuse. Every URL pattern is walked with a database holding one of everything; charts still draw (as images)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from alerts.models import Alert, Channel
from api import tokens
from backups.models import Artifact, BackupRun, Database, Tier
from dashboard.two_factor import devices
from drills.models import Drill, FollowUp, Scenario
from evidence import sampling
from evidence.models import EvidenceExport
from evidence.period import Scope
from tests.drill_helpers import make_drill
from tests.evidence_data import daily_history
from tests.helpers import chart_svgs

WANTED = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
    "object-src": "'none'", "base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'",
}
# Not HTML: the favicon (a redirect to the icon), a drill's JSON record, evidence zips, metrics, the health probe.
FILES = {"favicon", "drills:record", "evidence:export_download", "metrics", "healthz"}


def directives(header: str) -> dict[str, str]:
    return {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}


class InlineFinder(HTMLParser):
    """Collects what the policy refuses: <script> without src, <style>, style="", on*="", javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("inline <style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")


def inline_parts(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def everything(db, local_tier, admin_user, team_lead, dba):
    """One of each thing a page shows: databases with history, a drill with a follow-up, an alert, a channel,
    an evidence export and a sample."""
    database = daily_history("orders", date(2026, 11, 1), 5, fail_every=3)
    drill = make_drill(team_lead, dba, database=database)
    Drill.objects.filter(pk=drill.pk).update(recovery_seconds=90, validated_at=datetime(2026, 11, 6, tzinfo=UTC))
    follow_up = FollowUp.objects.create(drill=drill, finding="restore role undocumented", action="document it",
                                        owner=dba, due_date=date(2026, 12, 1))
    alert = Alert.objects.create(key="freshness:orders", kind="freshness", severity="critical", title="orders late",
                                 message="no good backup", database=database)
    channel = Channel.objects.create(name="ops", url="json://127.0.0.1:9/ops")
    export = EvidenceExport.objects.create(requested_by=admin_user, requested_by_name="admin", since=date(2026, 11, 1),
                                           until=date(2026, 11, 5))
    sample = sampling.take_sample(Scope.build(date(2026, 11, 1), date(2026, 11, 5), ["orders"]), 2, seed="csp")
    artifact = Artifact.objects.filter(run__database=database).first()
    token, _ = tokens.issue(admin_user, "csp", tokens.Scope.READ, 30)
    return {
        "database_id": database.pk, "name": database.name, "artifact_id": artifact.pk, "channel_id": channel.pk,
        "slug": drill.scenario.slug, "step_id": drill.steps.first().pk, "follow_up_id": follow_up.pk,
        "pk": {"backups:run_detail": artifact.run.pk, "backups:": Tier.objects.get(name="local").pk,
               "alerts:": alert.pk, "evidence:export": export.pk, "evidence:sample": sample.pk,
               "drills:": drill.pk, "api_token": token.pk},
    }


def product_pages(seeded: dict) -> list[tuple[str, str]]:
    """(name, url) of every URL pattern outside the admin, its parameters filled with the seeded objects."""
    found = []

    def value(name: str, param: str) -> str:
        if param != "pk":
            return str(seeded[param])
        return str(next(v for prefix, v in seeded["pk"].items() if name.startswith(prefix)))

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "admin":
                    continue
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                name = f"{namespace}{p.name}"
                route = prefix + str(p.pattern)
                if "static" in route or route.startswith("api/"):
                    continue  # files, and the JSON API (its docs page is checked in a browser: test_api_served)
                url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, name=name: value(name, m.group(1)), route)
                found.append((name, "/" + url))

    walk(get_resolver().url_patterns, "", "")
    return found


def admin_pages() -> list[str]:
    """Every registered model's list and add pages, and the change page of its first row."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        first = model.objects.order_by("pk").first()
        if first is not None:
            urls.append(reverse(f"{prefix}_change", args=[first.pk]))
    return urls


def test_policy_header_carries_every_directive_on_dashboard_pages_admin_and_sign_in(client, admin_user, db):
    assert directives(client.get(reverse("login"))["Content-Security-Policy"]) == WANTED
    client.force_login(admin_user)
    for url in (reverse("home"), reverse("backups:run_list"), reverse("drills:list"), reverse("admin:index"),
                reverse("admin:backups_database_add")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response["Content-Security-Policy"]) == WANTED, url


def test_no_product_page_carries_anything_inline(client, django_user_model, everything):
    superuser = django_user_model.objects.create_superuser("root-csp", password="x" * 16)
    client.force_login(superuser)
    session = client.session  # the sign-in's code step renders only half-way through a sign-in
    devices.begin_sign_in(session, superuser, "django.contrib.auth.backends.ModelBackend")
    session.save()
    rendered, inline = [], {}
    for name, url in product_pages(everything):
        if name in FILES:
            continue
        response = client.get(url)
        if response.status_code in (302, 405):
            continue  # POST-only actions, the admin's sign-in (sent to ours); the set below proves pages rendered
        assert response.status_code == 200, f"{name} {url} answered {response.status_code}"
        assert "Content-Security-Policy" in response, name
        rendered.append(name)
        if found := inline_parts(response.content.decode()):
            inline[name] = found
    assert inline == {}
    # The walk really rendered the pages (a 405 or redirect everywhere would pass vacuously).
    assert {"home", "backups:database_detail", "backups:run_detail", "backups:tier_detail", "alerts:detail",
            "drills:detail", "drills:history", "drills:scenario", "evidence:sample_detail", "audit_list",
            "login", "two_factor:manage", "two_factor:sign_in"} <= set(rendered)


def test_no_admin_page_carries_anything_inline(client, django_user_model, everything):
    superuser = django_user_model.objects.create_superuser("root-csp", password="x" * 16)
    client.force_login(superuser)
    inline = {}
    urls = admin_pages()
    for url in urls:
        response = client.get(url)
        if response.status_code == 403:
            continue  # an add page the admin offers to no one (django-q's task results)
        assert response.status_code == 200, url
        if found := inline_parts(response.content.decode()):
            inline[url] = found
    assert inline == {}
    assert len(urls) > 40


def test_charts_are_images_of_the_pygal_svg_and_say_what_they_show(client, dba, everything):
    client.force_login(dba)
    page = client.get(reverse("backups:database_detail", args=["orders"])).content.decode()
    svgs = chart_svgs(page)
    assert len(svgs) == 3
    assert all(svg.startswith("<svg") and "pygal-chart" in svg for svg in svgs)
    assert "Stored size of orders" in svgs[0] and "failed run" in svgs[0]
    # The text alternative reads the data out: newest value and the failures marked.
    assert re.search(r'alt="Stored size of orders\. orders: 4 points, newest [\d.]+ KiB on 2026-11-05 02:00\. '
                     r'1 failed run marked\."', page)
    history = client.get(reverse("drills:history")).content.decode()
    assert "RTO" in chart_svgs(history)[0] and "RTO" in history


def test_a_scenario_without_real_drills_draws_no_image(client, dba, db):
    Scenario.objects.update()  # seeded by migrations; none has a measured drill here
    client.force_login(dba)
    assert chart_svgs(client.get(reverse("drills:history")).content.decode()) == []
    Database.objects.create(name="fresh", dbname="fresh")
    assert BackupRun.objects.count() == 0
    page = client.get(reverse("backups:database_detail", args=["fresh"])).content.decode()
    assert chart_svgs(page) == [] and page.count('class="chart-empty"') == 3
