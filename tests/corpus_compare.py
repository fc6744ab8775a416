"""How the corpus tests (tests/test_real_databases.py, tests/test_regression_database.py) compare a restore with its
source: the schema as pg_dump prints it, and a fingerprint of every relation's rows, sequences and large objects."""

from __future__ import annotations

import json
import re
import subprocess

from psycopg import sql

from backups.engine import pgtools
from tests.helpers import run_command

# Verification checks that neither pass nor fail by design, with the only detail they may carry: the scratch
# restore runs --no-acl, so privileges are not compared there (the schema dump comparison covers them).
NOT_COMPARED_BY_DESIGN = re.compile(r"^not compared: (\d+ × (default )?privileges \(the scratch restore runs "
                                    r"--no-acl\)(; )?)+$")

# What every corpus verification must run; each of these must pass.
REQUIRED_CHECKS = {"size", "sha256", "restore", "row_counts", "objects", "database_properties"}


def assert_latest_verifies_with_every_check(source: str) -> dict:
    """`verify latest` of the source passes, runs every required check, and each check passed, except the
    comparisons skipped by design, which must carry only the detail that says so."""
    code, out, err = run_command("verify", "latest", "--database", source, "--json")
    verification = json.loads(out)
    assert code == 0 and verification["status"] == "passed", verification
    assert REQUIRED_CHECKS <= {c["name"] for c in verification["checks"]}
    for check in verification["checks"]:
        if check["name"] == "objects_not_compared":
            assert NOT_COMPARED_BY_DESIGN.match(check["detail"]), check
        else:
            assert check["ok"] is True, check
    return verification


def schema_dump(pg_server, dbname: str) -> list[str]:
    """pg_dump --schema-only --create, the database's name replaced, without comments and the per-dump random
    `\\restrict` key lines."""
    out = subprocess.run([pgtools.pg_binary("pg_dump"), *pg_server.target.cli_args(dbname=dbname), "--schema-only",
                          "--create"], check=True, capture_output=True, text=True, env=pg_server.env).stdout
    return [re.sub(rf'\b{re.escape(dbname)}\b', "DBNAME", line) for line in out.splitlines()
            if line.strip() and not line.startswith(("--", "\\restrict", "\\unrestrict"))]


RELATIONS = """
SELECT c.oid::regclass::text, n.nspname, c.relname, c.relkind, c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%'
ORDER BY 1
"""


def data_fingerprint(pg_server, dbname: str) -> dict[str, str]:
    """Every table's and populated materialized view's rows (count and md5 of their text in a fixed order), every
    sequence's state, every unpopulated materialized view as such, and the large objects."""
    found: dict[str, str] = {}
    with pg_server.connect(dbname) as conn:
        for regclass, schema, name, kind, populated in conn.execute(RELATIONS).fetchall():
            table = sql.Identifier(schema, name)
            if kind == "S":
                query = sql.SQL("SELECT last_value::text || ' ' || is_called::text FROM {}").format(table)
            elif kind == "m" and not populated:
                found[regclass] = "unpopulated"
                continue
            else:
                query = sql.SQL("SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, E'\\n' "
                                "ORDER BY t::text)), '') FROM {} t").format(table)
            found[regclass] = conn.execute(query).fetchone()[0]
        found["large objects"] = conn.execute(
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(loid::text || ':' || pageno::text || ':' "
            "|| md5(data), ',' ORDER BY loid, pageno)), '') FROM pg_largeobject").fetchone()[0]
    return found
