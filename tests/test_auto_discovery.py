"""A server with discovery on protects every database on it except templates and the excluded ones."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from backups.catalog.discovery import discover, discover_all
from backups.models import Database, Server
from backups.schedules import MAINTENANCE
from tests.helpers import run_json


@pytest.fixture
def server(db, pg_server):
    t = pg_server.target
    return Server.objects.create(name="main-pg", host=t.host, port=t.port, user=t.user,
                                 exclude="postgres\nlbt_excl_*", rpo_hours=12, schedule="15 1 * * *")


def names_on(pg_server) -> set[str]:
    return {r[0] for r in pg_server.query("postgres", "SELECT datname FROM pg_database")}


def test_every_database_but_templates_and_excluded_ones_is_protected(server, pg_server, make_source_db):
    wanted = make_source_db(prefix="lbt_disc")
    excluded = make_source_db(prefix="lbt_excl")
    before = names_on(pg_server)

    added = {d.dbname: d for d in discover(server)}

    assert wanted in added and excluded not in added
    assert not {"template0", "template1", "postgres"} & set(added)
    found = added[wanted]
    assert (found.server, found.rpo_hours, found.schedule, found.enabled) == (server, 12, "15 1 * * *", True)
    assert AuditEvent.objects.filter(action="config.database.discovered", target_id=str(found.pk)).exists()
    # Only databases that exist are added (other tests create and drop theirs meanwhile, hence before | after).
    assert set(added) <= before | names_on(pg_server)


def test_a_database_created_later_is_added_on_the_next_run_and_nothing_twice(server, pg_server, make_source_db):
    first = make_source_db(prefix="lbt_disc")
    discover(server)
    later = make_source_db(prefix="lbt_disc")

    added = [d.dbname for d in discover(server)]

    assert later in added and first not in added
    assert Database.objects.filter(dbname=first).count() == 1


def test_an_already_protected_database_is_left_as_it_is(server, pg_server, make_source_db):
    dbname = make_source_db(prefix="lbt_disc")
    t = pg_server.target
    mine = Database.objects.create(name="hand-made", host=t.host, port=t.port, user=t.user, dbname=dbname)

    assert dbname not in [d.dbname for d in discover(server)]
    mine.refresh_from_db()
    assert mine.server is None


def test_servers_with_discovery_off_are_skipped_and_an_unreachable_one_is_reported(server, pg_server):
    server.discover = False
    server.save()
    Server.objects.create(name="gone", host="127.0.0.1", port=1, discover=True)

    code, outcome = run_json("discover_databases")

    assert code == 1 and "main-pg" not in outcome and outcome["gone"].startswith("error: cannot connect")
    assert discover_all() == outcome


def test_discovery_runs_hourly():
    assert MAINTENANCE["lifeboat:discover-databases"] == ("backups.tasks.discover_databases", "50 * * * *")


def test_lifeboats_own_databases_are_never_protected(server, pg_server):
    drill_db = pg_server.create_database("lifeboat_drill_0")
    try:
        assert drill_db not in [d.dbname for d in discover(server)]
    finally:
        pg_server.drop_database(drill_db)


def test_a_discovered_database_that_vanishes_is_disabled_not_deleted(server, pg_server, make_source_db):
    from django_q.models import Schedule

    dbname = make_source_db(prefix="lbt_disc")
    (found,) = [d for d in discover(server) if d.dbname == dbname]
    assert Schedule.objects.filter(name=found.schedule_name).exists()
    pg_server.drop_database(dbname)

    discover(server)

    found.refresh_from_db()
    assert not found.enabled and not Schedule.objects.filter(name=found.schedule_name).exists()
    assert AuditEvent.objects.filter(action="config.database.vanished", target_id=str(found.pk)).count() == 1
