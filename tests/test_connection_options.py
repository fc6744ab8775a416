"""A DSN's libpq options are kept and reach every client; what cannot be kept safely is refused in one line."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from psycopg.conninfo import conninfo_to_dict

from backups.conninfo import ConnectionOptions
from backups.engine import pipeline
from backups.errors import ConfigurationError
from backups.models import Database
from tests.helpers import run_command

TLS_DSN = ("postgresql://app@db.example.com:6432/shop?sslmode=verify-full&connect_timeout=3"
           "&target_session_attrs=read-write&options=-c%20statement_timeout%3D0")


@pytest.fixture
def cert_dir(tmp_path, settings):
    directory = tmp_path / "certs"
    directory.mkdir()
    settings.LIFEBOAT_PG_CERT_DIR = str(directory)
    return directory


def test_libpq_options_are_kept_in_the_conninfo_every_client_gets():
    options = ConnectionOptions.parse(TLS_DSN)

    given = conninfo_to_dict(options.conninfo(application_name="lifeboat-test"))
    assert given == {"host": "db.example.com", "port": "6432", "user": "app", "dbname": "shop",
                     "sslmode": "verify-full", "connect_timeout": "3", "target_session_attrs": "read-write",
                     "options": "-c statement_timeout=0", "application_name": "lifeboat-test"}
    dbname_arg, no_password = options.cli_args(dbname="other")
    assert no_password == "--no-password"
    assert conninfo_to_dict(dbname_arg.removeprefix("--dbname="))["dbname"] == "other"
    assert conninfo_to_dict(dbname_arg.removeprefix("--dbname="))["sslmode"] == "verify-full"
    assert ConnectionOptions.parse(options.dsn) == options  # what is recorded parses back to the same


def test_add_database_keeps_the_options(db):
    code, out, err = run_command("add_database", "shop", "--dsn", TLS_DSN, "--no-check")

    assert code == 0, err
    database = Database.objects.get(name="shop")
    # (in libpq's own order)
    assert database.libpq_options == ("connect_timeout=3&options=-c%20statement_timeout%3D0&sslmode=verify-full"
                                      "&target_session_attrs=read-write")
    assert database.connection_options() == ConnectionOptions.parse(TLS_DSN)
    assert ConnectionOptions.parse(database.dsn) == ConnectionOptions.parse(TLS_DSN)
    assert "sslmode=verify-full" in out


def test_the_password_comes_from_the_environment_and_stays_out_of_argv_and_records(monkeypatch):
    monkeypatch.setenv("LIFEBOAT_SHOP_PG_PASSWORD", "s3cret")
    database = Database(name="shop", host="h", user="u", dbname="d", password_env="LIFEBOAT_SHOP_PG_PASSWORD")

    options = database.connection_options()

    assert options.env({})["PGPASSWORD"] == "s3cret"
    assert "s3cret" not in " ".join(options.cli_args()) + options.dsn + repr(options)


@pytest.mark.parametrize("dsn", [
    "postgresql://u@h/db?password=secret",
    "postgresql://u:secret@h/db",
    "host=h user=u dbname=db password=secret",
    "postgresql://u@h/db?sslpassword=secret",
])
def test_a_password_in_the_dsn_is_refused(db, dsn):
    code, out, err = run_command("add_database", "x", "--dsn", dsn, "--no-check")

    assert code == 1
    assert "Lifeboat never stores passwords" in err and err.strip().count("\n") == 0
    assert not Database.objects.exists()


@pytest.mark.parametrize("dsn", [
    "postgresql://u@h/db\n?sslmode=disable",
    "postgresql://u@h/db?options=-c%0Asearch_path%3Devil",
    "postgresql://u@h/d%0Ab",
])
def test_control_characters_are_refused_not_removed(db, dsn):
    code, out, err = run_command("add_database", "x", "--dsn", dsn, "--no-check")

    assert code == 1
    assert "control character" in err and err.strip().count("\n") == 0
    assert not Database.objects.exists()


def test_lifeboat_names_its_sessions_whatever_the_dsn_says():
    options = ConnectionOptions.parse("postgresql://u@h/db?application_name=pretend&fallback_application_name=x")

    assert options.params == ()
    assert conninfo_to_dict(options.conninfo(application_name="lifeboat-pg_dump-run-7"))["application_name"] == (
        "lifeboat-pg_dump-run-7")


@pytest.mark.parametrize(("dsn", "message"), [
    ("postgresql://u@h/db?service=prod", "service is not accepted"),
    ("postgresql://u@h/db?sslkeylogfile=/tmp/keys", "sslkeylogfile is not accepted"),
    ("postgresql://u@h1,h2/db", "more than one host"),
    ("postgresql://u@h/db?nosuch=1", "invalid URI query parameter"),
    ("postgresql://u@h:99999/db", "port is not a number"),
])
def test_options_lifeboat_cannot_honour_are_refused(dsn, message):
    with pytest.raises(ConfigurationError, match=message):
        ConnectionOptions.parse(dsn)


def test_file_options_must_lie_under_the_certificate_directory(cert_dir, settings):
    inside = cert_dir / "ca.pem"
    kept = ConnectionOptions.parse(f"postgresql://u@h/db?sslmode=verify-full&sslrootcert={inside}")
    assert kept.option("sslrootcert") == str(inside)
    assert ConnectionOptions.parse("postgresql://u@h/db?sslrootcert=system").option("sslrootcert") == "system"

    for path in ("/etc/shadow", f"{cert_dir}/../elsewhere/key.pem", "relative/ca.pem"):
        for key in ("sslrootcert", "sslcert", "sslkey", "passfile"):
            with pytest.raises(ConfigurationError, match=f"{key}=.*LIFEBOAT_PG_CERT_DIR"):
                ConnectionOptions.parse(f"postgresql://u@h/db?{key}={path}")

    settings.LIFEBOAT_PG_CERT_DIR = ""
    with pytest.raises(ConfigurationError, match="set LIFEBOAT_PG_CERT_DIR"):
        ConnectionOptions.parse(f"postgresql://u@h/db?sslrootcert={inside}")


def test_the_admin_refuses_what_the_command_line_refuses(db, cert_dir):
    database = Database(name="shop", host="h", user="u", dbname="d", libpq_options="sslmode=require&password=x")
    with pytest.raises(ValidationError, match="never stores passwords"):
        database.full_clean()
    database.libpq_options = "sslrootcert=/etc/ssl/private/key.pem"
    with pytest.raises(ValidationError, match="outside LIFEBOAT_PG_CERT_DIR"):
        database.full_clean()
    database.libpq_options = f"sslmode=verify-full&sslrootcert={cert_dir}/ca.pem"
    database.full_clean()


AMBIENT = {"PGHOST": "nowhere.invalid", "PGPORT": "1", "PGSSLMODE": "require", "PGOPTIONS": "-c nosuch.x=1",
           "PGTARGETSESSIONATTRS": "read-only", "PGREQUIREAUTH": "scram-sha-256", "PGCHANNELBINDING": "require",
           "PGCONNECT_TIMEOUT": "1", "PGSSLROOTCERT": "/nonexistent", "PGAPPNAME": "ambient"}


def test_ambient_pg_variables_are_not_read(learning_db, local_tier, monkeypatch, settings):
    """Each of these would break (or redirect) a connection if libpq read it, in this process or in pg_dump."""
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    for name, value in AMBIENT.items():
        monkeypatch.setenv(name, value)

    run = pipeline.backup(learning_db)

    assert run.status == "succeeded", run.error
    assert run.globals_name, run.log  # pg_dumpall too


def test_a_manifest_carries_the_options_so_an_imported_database_keeps_them(db):
    import json

    from django.utils import timezone

    from backups.catalog import importer, manifest
    from backups.models import BackupRun

    options = "connect_timeout=3&sslmode=verify-full"
    database = Database.objects.create(name="shop", host="h", user="u", dbname="d", libpq_options=options)
    run = BackupRun.objects.create(database=database, status="succeeded", started_at=timezone.now())
    payload = manifest.build_manifest(run, "shop-1.dump.zst")
    BackupRun.objects.all().delete()  # Lifeboat's own database lost; the tier's manifests remain
    Database.objects.all().delete()

    imported = importer._database_for(manifest.Manifest.parse(json.dumps(payload).encode(), "shop-1.manifest.json"))

    assert imported.libpq_options == options and "sslmode=verify-full" in imported.dsn
