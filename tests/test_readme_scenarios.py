"""The README's scenario table is true: every command it lists for the recovery plan's four scenarios runs, as
written, against a real database and recovers what that scenario lost."""

from __future__ import annotations

import re
import shlex
import uuid
from pathlib import Path

import pytest

from backups.engine import pipeline
from backups.models import Restore
from tests.helpers import run_command, table_counts

README = Path(__file__).resolve().parent.parent / "README.md"
ROW = re.compile(r"^\| (?P<scenario>[^|]+?) \| (?P<commands>.+?) \| (?P<tests>[^|]+) \|$")


def scenario_table() -> dict[str, tuple[list[list[str]], list[str]]]:
    text = README.read_text()
    table = text[text.index("### Which command recovers which scenario"):]
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Scenario |")) + 2  # header, separator
    rows = {}
    for line in lines[start:]:
        match = ROW.match(line)
        if not match:
            break
        commands = [shlex.split(c)[1:] for c in re.findall(r"`(manage\.py [^`]+)`", match["commands"])]
        rows[match["scenario"]] = (commands, re.findall(r"`(tests/[^`]+)`", match["tests"]))
    return rows


def test_the_table_names_the_plans_four_scenarios_and_existing_tests():
    rows = scenario_table()
    assert set(rows) == {"Data corruption", "Accidental deletion", "Server loss", "Ransomware"}
    for commands, tests in rows.values():
        assert commands and tests
        for test in tests:
            assert (README.parent / test).is_file(), test


@pytest.fixture
def scenario_run(learning_db, settings):
    settings.LIFEBOAT_VERIFY_AFTER_BACKUP = False
    run = pipeline.backup(learning_db)
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def new_names(pg_server, learning_db):
    names: list[str] = []
    yield names
    with pg_server.connect() as conn:
        forensic = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                               (learning_db.dbname + "\\_forensic\\_%",)).fetchall()]
    for name in names + forensic:
        pg_server.drop_database(name)


@pytest.fixture
def run_scenario(scenario_run, pg_server, new_names, admin_user):
    def run(scenario: str) -> None:
        new_db = f"lbt_scenario_{uuid.uuid4().hex[:8]}"
        new_names.append(new_db)
        fill = {"RUN_ID": str(scenario_run.pk), "NEW_DB": new_db, "USER": admin_user.username,
                "NEW_SERVER_DSN": pg_server.target.with_dbname("postgres").dsn}
        for argv in scenario_table()[scenario][0]:
            code, out, err = run_command(*[fill.get(arg, arg) for arg in argv])
            assert code == 0, (argv, out, err)

    return run


def test_data_corruption(run_scenario, learning_db, pg_server):
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute("UPDATE lessons SET title = 'garbage'")
    run_scenario("Data corruption")
    assert pg_server.query(learning_db.dbname, "SELECT count(*) FROM lessons WHERE title = 'garbage'") == [(0,)]


def test_accidental_deletion(run_scenario, learning_db, pg_server):
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute("DELETE FROM users WHERE id > 200")
    run_scenario("Accidental deletion")
    assert table_counts(pg_server, learning_db.dbname, ["users"]) == {"users": 250}


def test_server_loss(run_scenario, pg_server):
    run_scenario("Server loss")
    restored = Restore.objects.get(with_globals=True)
    assert restored.status == "succeeded"
    assert table_counts(pg_server, restored.target_database, ["users", "lessons", "problems"]) == \
        {"users": 250, "lessons": 40, "problems": 120}


def test_ransomware(run_scenario, learning_db, pg_server):
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute("DROP TABLE problems; UPDATE users SET email = 'encrypted-' || id")
    run_scenario("Ransomware")
    assert table_counts(pg_server, learning_db.dbname, ["users", "problems"]) == {"users": 250, "problems": 120}
    assert Restore.objects.get(mode=Restore.Mode.REPLACE).forensic_database
