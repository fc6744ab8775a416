"""A source that accepts TLS only: backed up, verified and restored with sslmode=verify-full, refused without TLS.

Every client program is wrapped (LIFEBOAT_PG_BIN) to record how it was called, so the test shows each one got the
DSN's options, and no password or ambient PG* variable.
"""

from __future__ import annotations

import os
import stat

import pytest
from psycopg.conninfo import conninfo_to_dict

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools, pipeline
from backups.models import Database, Verification
from backups.proof.verification import verify_artifact
from tests.helpers import run_command

SCHEMA = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10, 2));
INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 300) g;
INSERT INTO orders (customer_id, total) SELECT 1 + g % 300, g FROM generate_series(1, 900) g;
"""
CLIENTS = ("pg_dump", "pg_dumpall", "pg_restore", "psql")


@pytest.fixture
def tls_source(tls_server, settings, tmp_path):
    settings.LIFEBOAT_PG_CERT_DIR = str(tls_server.cert_dir)
    settings.LIFEBOAT_BACKUP_ROOT = tmp_path / "backups"
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    name = f"shop_{os.urandom(4).hex()}"
    admin = tls_server.admin()
    with admin.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with admin.connect(dbname=name) as conn:
        conn.execute(SCHEMA)
    yield name
    with admin.connect() as conn:
        for (dbname,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%{name}%",)):
            conn.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
        conn.execute("DROP DATABASE IF EXISTS lifeboat_restored_tls WITH (FORCE)")


@pytest.fixture
def recorded_clients(tmp_path, settings):
    """Wrappers that log argv and PG* environment, then run the real program."""
    log, wrappers = tmp_path / "clients.log", tmp_path / "bin"
    wrappers.mkdir()
    for name in CLIENTS:
        script = wrappers / name
        # One write per call (programs run side by side): argv, then the PG* variables, separated by \x1f.
        script.write_text(f'#!/bin/sh\nline=$(printf "%s\\037" "$0" "$@"; env | grep "^PG" | tr "\\n" "\\037")\n'
                          f'printf "%s\\n" "$line" >> {log}\nexec {pgtools.pg_binary(name)} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    pgtools.pg_binary.cache_clear()
    settings.LIFEBOAT_PG_BIN = str(wrappers)
    yield log
    pgtools.pg_binary.cache_clear()


def calls(log) -> list[list[str]]:
    return [line.split("\x1f")[:-1] for line in log.read_text().splitlines()] if log.exists() else []


def test_a_tls_only_source_is_added_backed_up_verified_and_restored(db, tls_server, tls_source, recorded_clients,
                                                                    monkeypatch):
    monkeypatch.setenv("PGSSLMODE", "disable")  # ambient: would fail every connection if it were read
    code, out, err = run_command("add_database", "shop", "--dsn", tls_server.dsn(tls_source))
    assert code == 0, err
    assert "checked: PostgreSQL 15" in out and "2 tables" in out
    database = Database.objects.get(name="shop")

    run = pipeline.backup(database)
    assert run.status == "succeeded", run.error
    assert run.row_counts == {"public.customers": 300, "public.orders": 900}
    assert run.globals_name, run.log
    record = verify_artifact(run.artifacts.get())
    assert record.status == Verification.Status.PASSED, record.error
    code, out, err = run_command("restore", str(run.pk), "--target-db", "lifeboat_restored_tls")
    assert code == 0, err
    with tls_server.admin().connect(dbname="lifeboat_restored_tls") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (900,)

    programs = {}
    for argv in calls(recorded_clients):
        program = os.path.basename(argv[0])
        conninfo = [a.removeprefix("--dbname=") for a in argv if a.startswith("--dbname=")]
        if not conninfo:  # --version, or pg_restore reading an archive: no server involved
            assert "--version" in argv or (program == "pg_restore" and "--dbname" not in " ".join(argv)), argv
            continue
        options = conninfo_to_dict(conninfo[0])
        assert (options["sslmode"], options["sslrootcert"]) == ("verify-full", str(tls_server.ca)), argv
        assert options["application_name"].startswith("lifeboat-") and "password" not in options
        assert not [a for a in argv if a.startswith("PG")], argv  # no ambient PG* reached the program
        programs[program] = programs.get(program, 0) + 1
    assert set(programs) == set(CLIENTS), programs


@pytest.mark.parametrize(("options", "message"), [
    ({"sslmode": "disable"}, "no encryption"),
    ({"sslrootcert": "WRONG"}, "certificate verify failed"),
])
def test_a_connection_that_is_not_verified_tls_fails_clearly(db, tls_server, tls_source, options, message):
    if options.get("sslrootcert") == "WRONG":
        options = {"sslrootcert": str(tls_server.wrong_ca)}
    dsn = tls_server.dsn(tls_source, **options)

    code, out, err = run_command("add_database", "shop", "--dsn", dsn)
    assert code == 1 and message in err and err.strip().count("\n") == 0, err
    assert not Database.objects.exists()

    run_command("add_database", "shop", "--dsn", dsn, "--no-check")
    run = pipeline.backup(Database.objects.get(name="shop"))
    assert run.status == "failed" and message in run.error


def test_the_ca_file_must_lie_in_the_certificate_directory(db, tls_server, tls_source, settings, tmp_path):
    settings.LIFEBOAT_PG_CERT_DIR = str(tmp_path)
    code, out, err = run_command("add_database", "shop", "--dsn", tls_server.dsn(tls_source))
    assert code == 1 and "outside LIFEBOAT_PG_CERT_DIR" in err


def test_connection_options_reach_a_tls_server_directly(tls_server, tls_source, settings):
    options = ConnectionOptions.parse(tls_server.dsn(tls_source))
    with options.connect() as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)


def test_a_restore_to_another_server_goes_over_verified_tls(learning_db, tls_server, settings, recorded_clients):
    """Server loss: the copy of a database on one server is restored onto a TLS-only one named by --target-dsn."""
    settings.LIFEBOAT_PG_CERT_DIR = str(tls_server.cert_dir)
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    target = f"lbt_tls_restored_{os.urandom(4).hex()}"
    try:
        code, out, err = run_command("restore", str(run.pk), "--target-db", target, "--no-owner",
                                     "--target-dsn", tls_server.dsn("postgres"))
        assert code == 0, err
        with tls_server.admin().connect(dbname=target) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone() == (250,)
        restores = [a for a in calls(recorded_clients) if os.path.basename(a[0]) == "pg_restore"]
        assert restores and all(conninfo_to_dict(a[1].removeprefix("--dbname="))["sslmode"] == "verify-full"
                                for a in restores), restores
    finally:
        with tls_server.admin().connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
