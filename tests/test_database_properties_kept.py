"""A restore keeps the database's own properties: encoding and locale, owner, comment, connection limit, the
database ACL (PUBLIC must not be able to connect again), ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE ...
SET; for a new database, for --replace, and verification checks them as a check of its own."""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql

from backups.engine import pipeline
from backups.models import Database, Restore
from backups.proof import verification
from backups.recovery import database_properties
from tests.conftest import LEARNING_SCHEMA
from tests.helpers import run_json

PROPERTIES = """
COMMENT ON DATABASE {db} IS 'production: it''s ours';
ALTER DATABASE {db} CONNECTION LIMIT 42;
REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT ON DATABASE {db} TO {app};
ALTER DATABASE {db} SET statement_timeout = '5s';
ALTER DATABASE {db} SET search_path = app, public;
ALTER ROLE {app} IN DATABASE {db} SET work_mem = '64MB';
ALTER DATABASE {db} OWNER TO {owner};
"""

PROPS_SQL = """
SELECT pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, pg_get_userbyid(d.datdba),
       shobj_description(d.oid, 'pg_database'), d.datconnlimit,
       has_database_privilege(%(stranger)s, d.oid, 'CONNECT'), has_database_privilege(%(app)s, d.oid, 'CONNECT'),
       (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0),
       (SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
         WHERE s.setdatabase = d.oid AND r.rolname = %(app)s)
FROM pg_database d WHERE d.datname = %(db)s
"""


@pytest.fixture
def roles(pg_server):
    suffix = uuid.uuid4().hex[:8]
    names = {"owner": f"lbt_dbowner_{suffix}", "app": f"lbt_app_{suffix}", "stranger": f"lbt_stranger_{suffix}",
             "restorer": f"lbt_restorer_{suffix}"}
    with pg_server.connect() as conn:
        for key, name in names.items():
            conn.execute(sql.SQL("CREATE ROLE {} " + ("LOGIN CREATEDB" if key == "restorer" else "NOLOGIN"))
                         .format(sql.Identifier(name)))
    yield names
    with pg_server.connect() as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def databases(pg_server, roles):
    """Names created during a test (the source, restores, forensic copies): all dropped, before the roles."""
    created: list[str] = []
    yield created
    with pg_server.connect() as conn:
        leftovers = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()
                     if any(r[0].startswith(name) for name in created)]
    for name in leftovers:
        with pg_server.connect() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
        pg_server.drop_database(name)


@pytest.fixture
def production(db, pg_server, roles, databases, backup_root, settings):
    """A LATIN1 / C-locale database with an owner, a comment, a limit, a locked-down ACL and settings."""
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    name = f"lbt_props_{uuid.uuid4().hex[:8]}"
    databases.append(name)
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'")
                     .format(sql.Identifier(name)))
    with pg_server.connect(name) as conn:
        conn.execute(LEARNING_SCHEMA)
        conn.execute(PROPERTIES.format(db=name, app=roles["app"], owner=roles["owner"]))
    database = Database.objects.create(name=name, host=pg_server.target.host, port=pg_server.target.port,
                                       user=pg_server.target.user, dbname=name)
    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    return run


def properties_of(pg_server, name: str, roles: dict[str, str]) -> tuple:
    return pg_server.query("postgres", PROPS_SQL, {"db": name, **roles})[0]


def expected(roles: dict[str, str]) -> tuple:
    return ("LATIN1", "C", "C", roles["owner"], "production: it's ours", 42, False, True,
            ["statement_timeout=5s", 'search_path=app, public'], ["work_mem=64MB"])


def test_a_new_database_comes_back_with_the_properties_of_the_backup(production, pg_server, roles, databases):
    name = f"lbt_propsnew_{uuid.uuid4().hex[:8]}"
    databases.append(name)

    # The restricted restore role loads it; --owner hands database and objects to the owner the backup names.
    code, result = run_json("restore", str(production.pk), "--target-db", name, "--owner", roles["owner"])

    assert code == 0, result
    assert properties_of(pg_server, name, roles) == expected(roles)
    assert properties_of(pg_server, production.database.dbname, roles) == expected(roles)


def test_replace_keeps_production_owner_acl_and_settings(production, pg_server, roles, databases, admin_user):
    code, result = run_json("restore", str(production.pk), "--replace", "--force", "--actor", admin_user.username)

    assert code == 0, result
    databases.append(result["forensic_database"])
    # Production came back owned by its owner, closed to PUBLIC, with its statement_timeout.
    assert properties_of(pg_server, production.database.dbname, roles) == expected(roles)


def test_what_the_restoring_login_may_not_do_is_reported_not_restorable_here(production, pg_server, roles,
                                                                              databases, restore_role_name):
    """An ordinary login (CREATEDB, no superuser, not a member of the owner) restores to "another server"."""
    name = f"lbt_propslow_{uuid.uuid4().hex[:8]}"
    databases.append(name)
    with pg_server.connect() as conn:  # what setup_database_roles --grant-to does for Lifeboat's login there
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(restore_role_name),
                                                      sql.Identifier(roles["restorer"])))
    dsn = pg_server.target.with_dbname("postgres").dsn.replace(f"//{pg_server.target.user}@",
                                                                f"//{roles['restorer']}@")

    code, result = run_json("restore", str(production.pk), "--target-db", name, "--target-dsn", dsn, "--no-owner")

    assert code == 0, result
    log = Restore.objects.get(pk=result["id"]).log
    assert f"owner {roles['owner']} not restored (--no-owner)" in log
    assert f"role setting not restorable here: ALTER ROLE {roles['app']} IN DATABASE <database> SET work_mem" in log
    got = properties_of(pg_server, name, roles)
    # What it may do, it did: encoding, locale, comment, limit, PUBLIC locked out, its own settings.
    assert got[:3] == ("LATIN1", "C", "C") and got[3] == restore_role_name  # loaded by the restore role
    assert got[4:9] == expected(roles)[4:9] and got[9] is None


def test_verification_checks_the_properties_and_fails_when_one_is_silently_lost(production, monkeypatch):
    artifact = production.artifacts.get()

    passed = verification.verify_artifact(artifact)
    check = next(c for c in passed.checks if c["name"] == "database_properties")
    assert passed.status == "passed" and check["ok"], passed.checks
    assert "encoding LATIN1" in check["detail"] and "owner lbt_dbowner_" in check["detail"]

    apply = database_properties.restore_onto

    def forgets_the_acl(server, dbname, props, **kwargs):  # a restore path that drops the ACL quietly
        kept = [s for s in props.statements if s.kind != "acl"]
        return apply(server, dbname, database_properties.DatabaseProperties(
            props.name, props.owner, props.create, props.options, tuple(kept)), **kwargs)

    monkeypatch.setattr(database_properties, "restore_onto", forgets_the_acl)
    failed = verification.verify_artifact(artifact)
    check = next(c for c in failed.checks if c["name"] == "database_properties")
    assert failed.status == "failed" and not check["ok"]
    assert "missing: REVOKE CONNECT,TEMPORARY ON DATABASE <database> FROM PUBLIC" in check["detail"]


def test_a_locale_the_server_lacks_is_reported_and_the_encoding_still_kept(pg_server, databases):
    name = f"lbt_propsloc_{uuid.uuid4().hex[:8]}"
    databases.append(name)
    create = database_properties.split_statements(f"CREATE DATABASE {name};", name, "create")[0]
    wanted = database_properties.DatabaseProperties(
        name, pg_server.target.user, create,
        {"ENCODING": "LATIN1", "LOCALE_PROVIDER": "libc", "LOCALE": "xx_NO.LATIN1"})

    notes = database_properties.create_database_like(pg_server.target, name, wanted)

    assert len(notes) == 1 and notes[0].startswith("locale and tablespace not restorable here (encoding LATIN1, "
                                                   "locale_provider libc, locale xx_NO.LATIN1 in the backup)")
    assert pg_server.query("postgres", "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = %s",
                           (name,)) == [("LATIN1",)]
    found = database_properties.of_database(pg_server.target.with_dbname(name))
    assert found.options["ENCODING"] == "LATIN1" and found.options.get("LOCALE") != "xx_NO.LATIN1"
    assert database_properties.compare(wanted, found, notes).ok
    assert database_properties.compare(wanted, found, []).differences == (
        f"locale xx_NO.LATIN1 in the backup, {found.options['LOCALE']} restored",)


def test_statements_name_the_database_only_where_sql_does():
    """The name is found as a token after ON/ALTER/IN/CREATE DATABASE, never by text search: a role named
    "database", a comment quoting the name and a quoted name with a space and a non-ASCII letter."""
    defn = ('ALTER DATABASE "Prod ü" CONNECTION LIMIT = 5;\n'
            'ALTER ROLE database IN DATABASE "Prod ü" SET work_mem TO \'1MB\';\n'
            'COMMENT ON DATABASE "Prod ü" IS \'see DATABASE "Prod ü"; it\'\'s ours\';\n')

    statements = database_properties.split_statements(defn, "Prod ü")

    assert [s.kind for s in statements] == ["connection limit", "role setting", "property"]
    assert [s.render("copy_1") for s in statements] == [
        'ALTER DATABASE "copy_1" CONNECTION LIMIT = 5',
        'ALTER ROLE database IN DATABASE "copy_1" SET work_mem TO \'1MB\'',
        "COMMENT ON DATABASE \"copy_1\" IS 'see DATABASE \"Prod ü\"; it''s ours'"]
    assert str(statements[0]) == "ALTER DATABASE <database> CONNECTION LIMIT = 5"
