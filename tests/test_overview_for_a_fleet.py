"""The overview for hundreds of databases: grouped by server or by tag, "problems only", one page at a time, and
the same number of queries whatever the fleet's size."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups.models import Database, ServerLimit
from backups.web.fleet import PAGE_SIZE


def add(n: int, **fields) -> list[Database]:
    start = Database.objects.count()
    return [Database.objects.create(name=f"db{start + i:04d}", dbname=f"db{start + i}", **fields) for i in range(n)]


def shown(page: str) -> list[str]:
    return re.findall(r'data-database="([^"]+)"', page)


def groups(page: str) -> list[str]:
    return re.findall(r'data-group="([^"]+)"', page)


def test_the_matrix_shows_one_page_of_databases(client, dba, local_tier):
    add(PAGE_SIZE + 10)
    client.force_login(dba)
    first = client.get("/").content.decode()
    assert len(shown(first)) == PAGE_SIZE and "page 1 of 2" in first
    second = client.get("/?page=2").content.decode()
    assert len(shown(second)) == 10 and set(shown(first)).isdisjoint(shown(second))
    assert f"{PAGE_SIZE + 10} of {PAGE_SIZE + 10} databases" in first


def test_grouped_by_tag_a_database_shows_under_each_of_its_tags(client, dba, local_tier):
    Database.objects.create(name="billing-eu", dbname="b", tags=",billing,eu,")
    Database.objects.create(name="billing-us", dbname="c", tags=",billing,us,")
    Database.objects.create(name="plain", dbname="d")
    client.force_login(dba)
    page = client.get("/?group=tag").content.decode()
    assert groups(page) == ["billing", "eu", "us", "no tag"]
    assert shown(page) == ["billing-eu", "billing-us", "billing-eu", "billing-us", "plain"]
    only_eu = client.get("/?tag=eu").content.decode()
    assert shown(only_eu) == ["billing-eu"]


def test_grouped_by_server_identity_with_the_admins_label(client, dba, local_tier):
    add(2, system_identifier="7300000000000000001", host="pg-a.internal")
    add(1, system_identifier="7300000000000000002", host="10.0.0.9")
    add(1)  # never backed up: its server not identified yet
    ServerLimit.objects.create(system_identifier="7300000000000000002", label="reporting", max_jobs=1)
    client.force_login(dba)
    page = client.get("/?group=server").content.decode()
    assert groups(page) == ["pg-a.internal:5432 (7300000000000000001)", "reporting (7300000000000000002)",
                            "server not identified yet (no backup so far)"]


def test_problems_only_hides_databases_without_one(client, dba, local_tier):
    add(3)  # enabled, no copy yet: a problem ("never")
    add(2, enabled=False)  # archived: not a problem
    client.force_login(dba)
    assert len(shown(client.get("/").content.decode())) == 5
    page = client.get("/?problems=1").content.decode()
    assert len(shown(page)) == 3 and "3 of 5 databases match" in page


def test_the_overview_makes_as_many_queries_for_sixty_databases_as_for_six(client, dba, local_tier):
    client.force_login(dba)
    add(6, system_identifier="7300000000000000001", tags="a")
    client.get("/?group=server")
    with CaptureQueriesContext(connection) as few:
        client.get("/?group=server")
    add(54, system_identifier="7300000000000000003", tags="b")
    with CaptureQueriesContext(connection) as many:
        client.get("/?group=server")
    assert len(many) == len(few)
