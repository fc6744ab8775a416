"""An installation made by the previous main upgrades with `migrate` alone, and keeps what it proves.

tests/upgrade/fixtures holds a real installation of main 9ef9a7c (the layout before issue 15), once as an SQLite
file and once as a PostgreSQL dump, made by tests/upgrade/make_fixtures.py through that version's own commands and
views: audit events with their chain anchored outside, an evidence export and sample, django-q schedules, and
permissions granted to single users and to a group no role sync manages. A copy of each is migrated by this
checkout's `manage.py migrate`, then:

- `verify_audit_log` finds the chain intact and still matching the anchor written before the upgrade;
- the append-only triggers still guard the events' table (an SQLite table rebuild would drop them silently);
- the models that moved app kept their content type rows (renamed, not recreated), so every grant still points
  at the same permission row and Django reads it under the new app label (a custom permission that moved to
  another model, PERMISSION_MOVED_TO, keeps its row too: only its content type changes);
- every schedule is still there and its function path imports.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "upgrade" / "fixtures"
PREVIOUS_MAIN = "9ef9a7c"
# Where each model the layout move touched lives now (content type "app_label.model" before -> app label after).
# Every other content type keeps its label.
MOVED_TO = {
    "dashboard.auditevent": "audit",
    "dashboard.auditchainhead": "audit",
    "dashboard.evidenceexport": "evidence",
    "dashboard.evidencesample": "evidence",
}
# A custom permission that moved to another model with this change ("app_label.codename" before -> the model, as
# named before, that declares it now). Its row must move with it, keeping its id and so every grant of it.
PERMISSION_MOVED_TO = {"dashboard.export_evidence": "dashboard.evidenceexport"}
AUDIT_EVENT = "dashboard.auditevent"
OPERATOR_GROUP = "Compliance readers"  # made by the operator: no role sync rewrites its permissions


@dataclass
class Installation:
    kind: str
    env: dict[str, str]
    query: Callable[[str], list[tuple]]
    refusal: Callable[[str], str]  # runs a statement the triggers must refuse; returns the error ("" if none)

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)


def _env(tmp_path: Path, kind: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    anchor = tmp_path / "anchor.jsonl"  # the head the old version anchored, where the new one looks for it
    shutil.copyfile(FIXTURES / f"lifeboat-{PREVIOUS_MAIN}.{'pg' if kind == 'postgresql' else kind}.anchor.jsonl",
                    anchor)
    env.update(LIFEBOAT_VAR_DIR=str(tmp_path / "var"), LIFEBOAT_BACKUP_ROOT=str(tmp_path / "backups"),
               LIFEBOAT_AUDIT_ANCHOR_PATH=str(anchor), LIFEBOAT_EVIDENCE_DIR=str(tmp_path / "evidence"),
               SECRET_KEY="test-only-key", LIFEBOAT_TASKS_SYNC="1", DJANGO_SETTINGS_MODULE="dashboard.settings")
    (tmp_path / "var").mkdir()
    return env


def _sqlite_installation(tmp_path: Path) -> Installation:
    env = _env(tmp_path, "sqlite")
    db_file = tmp_path / "var" / "lifeboat.sqlite3"
    shutil.copyfile(FIXTURES / f"lifeboat-{PREVIOUS_MAIN}.sqlite3", db_file)

    def query(statement: str) -> list[tuple]:
        with sqlite3.connect(db_file) as db:
            return db.execute(statement).fetchall()

    def refusal(statement: str) -> str:
        db = sqlite3.connect(db_file)
        try:
            db.execute(statement)
            db.rollback()
            return ""
        except sqlite3.DatabaseError as exc:
            return str(exc)
        finally:
            db.close()

    return Installation("sqlite", env, query, refusal)


def _postgresql_installation(tmp_path: Path, pg_server, make_source_db) -> Installation:
    env = _env(tmp_path, "postgresql")
    dbname = make_source_db(prefix="lbt_upgrade")  # dropped after the test
    t = pg_server.target
    env["DATABASE_URL"] = f"postgresql://{t.user}@{t.host}:{t.port}/{dbname}"
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", env["DATABASE_URL"],
                    "-f", str(FIXTURES / f"lifeboat-{PREVIOUS_MAIN}.pg.sql")],
                   env={**os.environ, **pg_server.env}, check=True, capture_output=True)
    # The same installation, in place: its own database (protected by self-backup) is the one it now runs on.
    pg_server.query(dbname, "UPDATE backups_database SET dbname = %s WHERE name = 'lifeboat'", (dbname,))

    def refusal(statement: str) -> str:
        with pg_server.connect(dbname, autocommit=False) as conn:
            try:
                conn.execute(statement)
                return ""
            except psycopg.DatabaseError as exc:
                return str(exc)
            finally:
                conn.rollback()

    return Installation("postgresql", env, lambda statement: pg_server.query(dbname, statement), refusal)


@pytest.fixture(params=["sqlite", "postgresql"])
def previous_installation(request, tmp_path) -> Installation:
    if request.param == "sqlite":
        return _sqlite_installation(tmp_path)
    return _postgresql_installation(tmp_path, request.getfixturevalue("pg_server"),
                                    request.getfixturevalue("make_source_db"))


GRANTS = """
SELECT u.username, p.id, p.codename, p.content_type_id, ct.app_label || '.' || ct.model
FROM auth_user_user_permissions up JOIN auth_user u ON u.id = up.user_id
JOIN auth_permission p ON p.id = up.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id
UNION ALL
SELECT 'group:' || g.name, p.id, p.codename, p.content_type_id, ct.app_label || '.' || ct.model
FROM auth_group_permissions gp JOIN auth_group g ON g.id = gp.group_id
JOIN auth_permission p ON p.id = gp.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id
WHERE g.name = '""" + OPERATOR_GROUP + "'"


def _content_types(inst: Installation) -> dict[str, int]:
    return {f"{label}.{model}": pk for pk, label, model in
            inst.query("SELECT id, app_label, model FROM django_content_type")}


def _triggers(inst: Installation, table: str) -> set[str]:
    if inst.kind == "sqlite":
        return {r[0] for r in inst.query(f"SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                         f"AND tbl_name = '{table}'")}
    return {r[0] for r in inst.query(f"SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                                     f"AND tgrelid = to_regclass('public.{table}')")}


# After the upgrade, the new code tells what each of the old content type ids now means to Django.
AFTER_REPORT = """
import json
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
ids, users = json.loads({args!r})
out = {{"models": {{}}, "user_perms": {{}}}}
for ct in ContentType.objects.filter(pk__in=ids):
    model = ct.model_class()
    out["models"][str(ct.pk)] = model and {{"table": model._meta.db_table, "rows": model._base_manager.count()}}
for name in users:
    out["user_perms"][name] = sorted(User.objects.get(username=name).get_user_permissions())
out["group_perms"] = sorted(f"{{p.content_type.app_label}}.{{p.codename}}"
                            for p in Group.objects.get(name={group!r}).permissions.all())
print(json.dumps(out))
"""


def _new_label(old: str) -> str:
    """The app label that the content type `old` ("app_label.model" before the upgrade) has after it."""
    return MOVED_TO.get(old, old.split(".")[0])


def _expected_grant(grant: tuple, content_types: dict[str, int]) -> tuple:
    """A grant (who, permission id, codename, content type id, "app.model") as it must read after the upgrade."""
    who, perm, codename, _, model = grant
    model = PERMISSION_MOVED_TO.get(f"{model.split('.')[0]}.{codename}", model)
    return who, perm, codename, content_types[model], f"{_new_label(model)}.{model.split('.')[1]}"


def test_previous_main_upgrades_with_migrate(previous_installation: Installation):
    inst = previous_installation
    content_types = _content_types(inst)
    moved_ids = {old: content_types[old] for old in MOVED_TO}
    grants = inst.query(GRANTS)
    rows = {old: inst.query(f"SELECT count(*) FROM {old.replace('.', '_')}")[0][0] for old in MOVED_TO}
    schedules = dict(inst.query("SELECT name, func FROM django_q_schedule"))
    events = inst.query("SELECT id, hash FROM dashboard_auditevent ORDER BY id")
    triggers_before = _triggers(inst, AUDIT_EVENT.replace(".", "_"))
    # The fixture is what the docstring says it is (else the checks below would pass on an empty installation).
    assert {g[0] for g in grants} == {"pat-compliance", "ada-admin", f"group:{OPERATOR_GROUP}"}
    assert any(g[4] == "dashboard.evidenceexport" for g in grants) and any(g[2] == "export_evidence" for g in grants)
    assert rows[AUDIT_EVENT] > 10 and rows["dashboard.evidenceexport"] == rows["dashboard.evidencesample"] == 1
    assert len(triggers_before) == 2 and len(schedules) >= 12

    migrated = inst.manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    # The chain verifies, through the moved code, against the head anchored before the upgrade.
    verified = inst.manage("verify_audit_log", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
    report = json.loads(verified.stdout)
    anchored = json.loads((Path(inst.env["LIFEBOAT_AUDIT_ANCHOR_PATH"])).read_text().splitlines()[-1])
    assert report["intact"] and report["count"] >= anchored["count"] == rows[AUDIT_EVENT]

    # Content types renamed in place: one row per model, the same id, the new app label; no stale twin.
    after_types = _content_types(inst)
    for old, pk in moved_ids.items():
        new = f"{MOVED_TO[old]}.{old.split('.')[1]}"
        assert after_types.get(new) == pk, f"{old} (content type #{pk}) should now be {new}: {after_types.get(new)}"
        assert old not in after_types, f"{old} is still a content type next to {new}"

    # Every grant: the same permission row, on the same content type, read under the model's new label.
    after_grants = inst.query(GRANTS)
    assert sorted(after_grants) == sorted(_expected_grant(g, content_types) for g in grants)

    users = sorted({g[0] for g in grants if not g[0].startswith("group:")})
    args = json.dumps([list(moved_ids.values()), users])
    shell = inst.manage("shell", "-c", AFTER_REPORT.format(args=args, group=OPERATOR_GROUP))
    assert shell.returncode == 0, shell.stderr[-3000:]
    after = json.loads(shell.stdout.strip().splitlines()[-1])
    expected_grants = [_expected_grant(g, content_types) for g in grants]

    def as_django_reads_it(who: str) -> list[str]:
        return sorted(f"{label.split('.')[0]}.{codename}" for w, _, codename, _, label in expected_grants if w == who)

    for who in users:
        assert after["user_perms"][who] == as_django_reads_it(who), who
    assert after["group_perms"] == as_django_reads_it(f"group:{OPERATOR_GROUP}")
    # The moved models read the old rows (their tables kept, or renamed with the data). Migrate may append
    # events (on PostgreSQL the dashboard's own database is registered again under its new name).
    for old, pk in moved_ids.items():
        assert after["models"][str(pk)] is not None, f"content type #{pk} ({old}) names no model any more"
        assert after["models"][str(pk)]["rows"] == rows[old] or old == AUDIT_EVENT, old
    events_table = after["models"][str(moved_ids[AUDIT_EVENT])]["table"]
    assert inst.query(f"SELECT id, hash FROM {events_table} ORDER BY id")[:len(events)] == events

    # The append-only triggers still guard the events' table, whatever it is called now.
    assert len(_triggers(inst, events_table)) == len(triggers_before), _triggers(inst, events_table)
    for statement in (f"UPDATE {events_table} SET summary = 'rewritten'", f"DELETE FROM {events_table}"):
        assert "append-only" in inst.refusal(statement), statement
    if inst.kind == "postgresql":
        assert "append-only" in inst.refusal(f"TRUNCATE {events_table}")

    # Every schedule survives and names a function this checkout can import (what the qcluster will do).
    after_schedules = {name: (func, hook) for name, func, hook in
                       inst.query("SELECT name, func, hook FROM django_q_schedule")}
    assert set(after_schedules) >= set(schedules)
    unimportable = {}
    for name, paths in after_schedules.items():
        for path in filter(None, paths):  # the task, and the hook called with its result, when there is one
            module, _, attr = path.rpartition(".")
            try:
                if not callable(getattr(importlib.import_module(module), attr)):
                    unimportable[name] = path
            except (ImportError, AttributeError) as exc:
                unimportable[name] = f"{path}: {exc}"
    assert not unimportable


def test_tasks_queued_before_the_upgrade_still_find_their_function():
    """A task waiting in django-q's queue keeps the path it was queued with; the old dashboard paths still run."""
    from audit.tasks import verify_audit_chain
    from dashboard import tasks as old_paths
    from evidence.tasks import build_evidence_export

    assert old_paths.verify_audit_chain is verify_audit_chain
    assert old_paths.build_evidence_export is build_evidence_export
