"""No restore or --force ever drops a database Lifeboat protects, whatever name its server is reached by.

The server is asked who it is (system_identifier, its port; the database's oid): `localhost`, `127.0.0.1`, the
socket directory and a second loopback address all reach one private cluster here, and each is recognised.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from backups.engine import pipeline
from backups.models import Database
from backups.recovery import database_roles
from tests.helpers import run_command
from tests.pg_cluster import clone_of, private_cluster


@pytest.fixture(scope="session")
def cluster(restore_role_name):
    with private_cluster() as (server, socket_dir):
        with server.connect() as conn:
            database_roles.ensure_role(conn, database_roles.ROLES[0])
        yield server, socket_dir


def rows(server, dbname: str) -> int:
    return server.query(dbname, "SELECT count(*) FROM orders")[0][0]


def test_force_through_any_alias_of_the_source_server_is_refused(cluster, local_tier):
    server, socket_dir = cluster
    name = server.create_database("lbt_alias")
    server.query(name, "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 3)")
    database = Database.objects.create(name=name, host="127.0.0.1", port=server.target.port, user="postgres",
                                       dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    database.refresh_from_db()
    sysid = server.query("postgres", "SELECT system_identifier::text FROM pg_control_system()")[0][0]
    assert (run.server_system_identifier, run.server_port_seen) == (sysid, server.target.port)
    assert database.system_identifier == sysid and database.database_oid == run.database_oid
    server.query(name, "INSERT INTO orders VALUES (4)")  # written after the backup: must survive

    for host in ("localhost", "127.0.0.1", socket_dir, "127.0.0.2"):
        dsn = f"postgresql://postgres@{quote(host, safe='')}:{server.target.port}/postgres"
        code, _, err = run_command("restore", str(run.pk), "--target-db", name, "--target-dsn", dsn, "--force")
        assert code == 1 and f"is the protected database {name}" in err, (host, err)
        assert rows(server, name) == 4, host

    # The same aliases still serve ordinary restores into a new database.
    copy = f"{name}_copy"
    dsn = f"postgresql://postgres@{quote(socket_dir, safe='')}:{server.target.port}/postgres"
    code, out, err = run_command("restore", str(run.pk), "--target-db", copy, "--target-dsn", dsn)
    assert code == 0, err
    assert rows(server, copy) == 3 and rows(server, name) == 4


def test_a_clone_shares_the_identity_and_counts_as_maybe_the_same_server(cluster, local_tier):
    """pg_basebackup copies the cluster, system_identifier included: the copy's database of the protected name
    cannot be told apart from the protected one, so it is refused too."""
    server, socket_dir = cluster
    name = server.create_database("lbt_cloned")
    server.query(name, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)")
    database = Database.objects.create(name=name, host="127.0.0.1", port=server.target.port, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    with clone_of(server, socket_dir) as clone:
        code, _, err = run_command("restore", str(run.pk), "--target-db", name, "--target-dsn", clone.target.dsn,
                                   "--force")
        assert code == 1 and "same server, or a replica or clone of it" in err, err
        assert rows(clone, name) == 1


def test_a_discovered_database_is_known_by_its_identity_before_its_first_backup(cluster, learning_db, local_tier):
    from backups.catalog.discovery import discover
    from backups.models import Server

    server, socket_dir = cluster
    name = server.create_database("lbt_discovered")
    server.query(name, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)")
    found = discover(Server.objects.create(name=f"private{server.target.port}", host="localhost",
                                           port=server.target.port, exclude=""))
    discovered = next(d for d in found if d.dbname == name)
    assert discovered.system_identifier and discovered.database_oid

    run = pipeline.backup(learning_db)  # another database's backup, restored onto the discovered one's server
    dsn = f"postgresql://postgres@127.0.0.2:{server.target.port}/postgres"
    code, _, err = run_command("restore", str(run.pk), "--target-db", name, "--target-dsn", dsn, "--force")
    assert code == 1 and f"is the protected database {discovered.name}" in err, err
    assert rows(server, name) == 1


def test_force_never_drops_another_protected_database(learning_db, pg_server, make_source_db):
    recorded = make_source_db("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2)", prefix="lbt_other")
    other = Database.objects.create(name=recorded, host="localhost", port=pg_server.target.port,
                                    user=pg_server.target.user, dbname=recorded)
    assert pipeline.backup(other).status == "succeeded"  # its identity is on record
    never_backed_up = make_source_db("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)", prefix="lbt_new")
    Database.objects.create(name=never_backed_up, host=pg_server.target.host, port=pg_server.target.port,
                            user=pg_server.target.user, dbname=never_backed_up)  # asked of its server now
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error

    for target, count in ((recorded, 2), (never_backed_up, 1)):
        code, _, err = run_command("restore", str(run.pk), "--target-db", target, "--force")
        assert code == 1 and f"is the protected database {target}" in err, err
        assert rows(pg_server, target) == count


def test_a_protected_database_whose_server_cannot_be_asked_is_refused_by_name(learning_db, pg_server,
                                                                             make_source_db):
    from tests.pg_cluster import free_port

    name = make_source_db("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)", prefix="lbt_unknown")
    Database.objects.create(name=name, host="127.0.0.1", port=free_port(), dbname=name)  # nothing listens there
    run = pipeline.backup(learning_db)

    code, _, err = run_command("restore", str(run.pk), "--target-db", name, "--force")

    assert code == 1 and "has never been identified and cannot be asked now" in err
    assert rows(pg_server, name) == 1


def test_restore_of_a_dropped_protected_database_under_its_own_name_is_allowed(learning_db, pg_server):
    run = pipeline.backup(learning_db)
    pg_server.drop_database(learning_db.dbname)  # the accident: nothing there is left to overwrite

    code, _, err = run_command("restore", str(run.pk), "--target-db", learning_db.dbname)

    assert code == 0, err
    assert pg_server.query(learning_db.dbname, "SELECT count(*) FROM users")[0][0] == 250
