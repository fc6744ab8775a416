"""Real databases Lifeboat's team did not write back up, verify and restore exactly (issue 17, acceptance).

The corpus is `tests/corpus/<name>/`: public sample databases as their authors publish them (SQL, licence,
SOURCE.md naming repository and commit). Each is loaded into a uniquely named database, registered with
`add_database`, backed up with `backup`, proved with `verify` (every check passes) and restored with `restore`
into another new database, which must equal the source: the same `pg_dump --schema-only --create` (only the
database's name differs) and the same rows in every table, the same materialized-view state, sequences and
large objects. Differences pg_dump itself would cause belong in ALLOWED_SCHEMA_DIFFERENCES, each explained.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from psycopg import sql

from backups.engine import pgtools
from tests.corpus_compare import assert_latest_verifies_with_every_check, data_fingerprint, schema_dump
from tests.helpers import run_command

CORPUS = Path(__file__).resolve().parent / "corpus"

# Files loaded, in order, per database.
DATABASES = {
    "pagila": ["pagila-schema.sql", "pagila-data.sql"],
    "chinook": ["Chinook_PostgreSql.sql"],
    "northwind": ["northwind.sql"],
}

# Rows the backup must have counted, so the comparison below cannot pass on a load that went wrong. Pagila's
# materialized view is created WITH NO DATA (issue 17, item 1): recorded as such, not counted.
EXPECTED_COUNTS = {
    "pagila": {"public.rental": 16044, "public.film": 1000, "public.rental_by_category": "unpopulated"},
    "chinook": {"public.track": 3503, "public.invoice_line": 2240},
    "northwind": {"public.orders": 830, "public.order_details": 2155},
}

# Lines of a published script that would act outside the database the test made for it: Chinook's script drops
# and creates a database called `chinook` and connects to it.
OUTSIDE_THE_DATABASE = re.compile(r"^(DROP DATABASE|CREATE DATABASE|\\c(onnect)?\s)", re.IGNORECASE)
# Pagila's dump gives every object to `postgres`; the database's owner (the loading role) owns them instead, so
# the corpus needs no particular role on the server (a fixed-name, cluster-wide role would outlive the test).
OWNER_TO = re.compile(r"^(ALTER .+ OWNER TO )(\S+);$")

# Differences between the source's schema dump and the restore's that pg_dump itself causes. Empty: with the
# database's properties restored (issue 17, item 3) nothing differs but the database's name, which the
# normalisation replaces. A line added here must say which pg_dump behaviour produces it.
ALLOWED_SCHEMA_DIFFERENCES: set[str] = set()

def _script(name: str) -> str:
    lines = []
    for file in DATABASES[name]:
        for line in (CORPUS / name / file).read_text(encoding="utf-8").splitlines():
            if OUTSIDE_THE_DATABASE.match(line):
                continue
            lines.append(OWNER_TO.sub(r"\1CURRENT_USER;", line))
    return "\n".join(lines) + "\n"


def _psql(pg_server, dbname: str, script: str) -> None:
    proc = subprocess.run([pgtools.pg_binary("psql"), *pg_server.target.cli_args(dbname=dbname), "-X", "-q",
                           "-v", "ON_ERROR_STOP=1", "-f", "-"], input=script, capture_output=True, text=True,
                          env=pg_server.env)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module", params=sorted(DATABASES))
def corpus_db(request, pg_server):
    """(corpus name, a uniquely named database holding it, its owner); dropped after the module.

    Owned, with everything in it, by a uniquely named ordinary role, as an application's database is: a restore
    loads as the restricted restore role and hands the result to an ordinary owner (`--owner`), never to a
    superuser, so only such a source can come back equal."""
    name = request.param
    suffix = uuid.uuid4().hex[:10]
    owner, dbname = f"lbt_corpus_owner_{suffix}", f"lbt_corpus_{name}_{suffix}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner)))
    try:
        _psql(pg_server, dbname, f'SET ROLE "{owner}";\n' + _script(name))
        yield name, dbname, owner
    finally:
        pg_server.drop_database(dbname)
        with pg_server.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))


@pytest.mark.django_db
def test_real_database_backs_up_verifies_and_restores_exactly(corpus_db, pg_server, backup_root, settings,
                                                              monkeypatch):
    name, source, owner = corpus_db
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False  # verified below, by the command
    t = pg_server.target
    dsn = t.with_dbname(source).dsn
    password = ["--password-env", "LIFEBOAT_TEST_PG_PASSWORD"] if t.password else []
    if t.password:
        monkeypatch.setenv("LIFEBOAT_TEST_PG_PASSWORD", t.password)

    code, out, err = run_command("add_database", source, "--dsn", dsn, *password)
    assert code == 0, (out, err)

    code, out, err = run_command("backup", source, "--json")
    assert code == 0, (out, err)
    run = json.loads(out)
    assert run["status"] == "succeeded", run["error"]
    assert not run["warnings"], run["warnings"]
    assert EXPECTED_COUNTS[name].items() <= run["row_counts"].items()

    assert_latest_verifies_with_every_check(source)

    target = f"lbt_corpus_{name}_restored_{uuid.uuid4().hex[:8]}"
    try:
        code, out, err = run_command("restore", str(run["id"]), "--target-db", target, "--owner", owner,
                                     "--json")
        assert code == 0, (out, err)
        assert json.loads(out)["status"] == "succeeded", out

        expected, restored = schema_dump(pg_server, source), schema_dump(pg_server, target)
        assert any(line.startswith("CREATE DATABASE DBNAME WITH ") for line in expected), expected[:20]
        differences = {line for line in difflib.unified_diff(expected, restored, lineterm="", n=0)
                       if line[:1] in "+-" and not line.startswith(("+++", "---"))}
        assert differences <= ALLOWED_SCHEMA_DIFFERENCES, "\n".join(sorted(differences))

        source_data, restored_data = data_fingerprint(pg_server, source), data_fingerprint(pg_server, target)
        assert len(source_data) > len(EXPECTED_COUNTS[name])
        assert restored_data == source_data
    finally:
        pg_server.drop_database(target)
