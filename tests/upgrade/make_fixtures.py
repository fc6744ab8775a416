"""Make the "previous main" installations that tests/test_upgrade_from_previous_main.py upgrades.

An installation is made the way an operator makes one, by the checkout being frozen (its own manage.py, its own
code paths, so the audit chain, permissions and schedules are exactly what that version writes):

  migrate -> add_database -> backup (twice) -> verify -> users, per-user and group grants, sign-ins, an evidence
  export and a sample through the web views -> export_evidence -> sync_schedules -> verify_audit_log --anchor

once on a fresh SQLite file and once on a fresh, uniquely named PostgreSQL database. It saves

  fixtures/lifeboat-<commit>.sqlite3            the SQLite file (VACUUM INTO: one self-contained file, no WAL)
  fixtures/lifeboat-<commit>.pg.sql             pg_dump --no-owner --no-privileges (plain SQL)
  fixtures/lifeboat-<commit>.<kind>.anchor.jsonl  the audit chain head anchored outside the database
  fixtures/lifeboat-<commit>.json               what was made: users, their grants, the schedules, the event count

and drops every database it created. Run it from any checkout, pointing --checkout at one of the old commit
(its .venv must exist, see the README's `make install`):

  git worktree add /tmp/lifeboat-old 9ef9a7c && (cd /tmp/lifeboat-old && make install)
  .venv/bin/python tests/upgrade/make_fixtures.py --checkout /tmp/lifeboat-old

Needs a PostgreSQL server where it may create databases (--pg-dsn, default the test suite's), pg_dump, zstd.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SOURCE_SCHEMA = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE invoices (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10, 2));
INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 50) g;
INSERT INTO invoices (customer_id, total) SELECT 1 + g % 50, g * 1.5 FROM generate_series(1, 200) g;
"""

# Per-user grants (app_label.codename as the old layout names them): the upgrade must keep each one pointing at
# the same permission row. "pat" holds them directly, outside any role; "Compliance readers" is a group that no
# role sync manages, so its grants too are the operator's and must survive as they are.
USER_GRANTS = {
    "pat-compliance": ["dashboard.export_evidence", "dashboard.view_auditevent", "dashboard.view_auditchainhead",
                       "dashboard.view_evidenceexport", "dashboard.view_evidencesample", "backups.view_backuprun"],
    "ada-admin": ["dashboard.view_auditevent"],
}
GROUP_GRANTS = {"Compliance readers": ["dashboard.export_evidence", "dashboard.view_auditevent",
                                       "dashboard.view_evidenceexport"]}
USERS = {  # name -> (groups, is_staff)
    "audrey-auditor": (["Auditor"], False),
    "dana-dba": (["DBA"], False),
    "ada-admin": (["Admin"], True),
    "pat-compliance": (["Compliance readers"], False),
}
PASSWORD = "correct-horse-battery"


def populate() -> dict:
    """Run inside the old checkout's Django (see `main`): people, grants, sign-ins, evidence through the views."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, Permission, User
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    def perm(dotted: str) -> Permission:
        app_label, codename = dotted.split(".")
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    for group, grants in GROUP_GRANTS.items():
        Group.objects.get_or_create(name=group)[0].permissions.set([perm(p) for p in grants])
    for name, (groups, staff) in USERS.items():
        user = User.objects.create_user(name, f"{name}@example.com", PASSWORD, is_staff=staff)
        user.groups.set([Group.objects.get(name=g) for g in groups])
        user.user_permissions.set([perm(p) for p in USER_GRANTS.get(name, [])])

    today = timezone.now().date().isoformat()
    client = Client()
    assert not client.login(username="audrey-auditor", password="wrong")  # auth.sign_in_failed
    for name in ("dana-dba", "audrey-auditor"):
        assert client.login(username=name, password=PASSWORD)  # auth.signed_in
        client.logout()  # auth.signed_out
    # The evidence pages by a user whose right to them is a per-user grant, not a role.
    assert client.login(username="pat-compliance", password=PASSWORD)
    answer = client.post(reverse("evidence:export_create"), {"since": today, "until": today})
    assert answer.status_code == 302, answer.status_code
    answer = client.post(reverse("evidence:sample_create"), {"since": today, "until": today, "size": 1,
                                                             "seed": "upgrade-fixture"})
    assert answer.status_code == 302, answer.status_code
    from dashboard.models import EvidenceExport, EvidenceSample

    export = EvidenceExport.objects.get()
    assert export.status == "done", (export.status, export.error)  # LIFEBOAT_TASKS_SYNC: built inline
    assert client.get(reverse("evidence:export_download", args=[export.pk])).status_code == 200
    client.logout()
    return {"evidence_exports": EvidenceExport.objects.count(), "evidence_samples": EvidenceSample.objects.count()}


def manage(checkout: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(checkout / ".venv/bin/python"), "manage.py", *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.stdout


def psql(dsn: str, command: str) -> None:
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", command], check=True)


def with_dbname(dsn: str, dbname: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + dbname


def make_installation(checkout: Path, work: Path, server_dsn: str, source: str, database_url: str | None) -> dict:
    """One installation in `work`; returns what the test needs to know about it (kept in the .json)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(LIFEBOAT_VAR_DIR=str(work / "var"), LIFEBOAT_BACKUP_ROOT=str(work / "backups"),
               LIFEBOAT_EVIDENCE_DIR=str(work / "evidence"), LIFEBOAT_AUDIT_ANCHOR_PATH=str(work / "anchor.jsonl"),
               SECRET_KEY="upgrade-fixture-only", LIFEBOAT_TASKS_SYNC="1", ALLOWED_HOSTS="testserver,localhost",
               DJANGO_SETTINGS_MODULE="dashboard.settings")
    if database_url:
        env["DATABASE_URL"] = database_url
    (work / "var").mkdir(parents=True)
    manage(checkout, env, "migrate", "--noinput")
    manage(checkout, env, "add_database", "shop", "--dsn", with_dbname(server_dsn, source), "--rpo-hours", "12",
           "--schedule", "15 1 * * *")
    runs = [json.loads(manage(checkout, env, "backup", "shop", "--json")) for _ in range(2)]
    assert all(r["status"] == "succeeded" for r in runs), runs
    manage(checkout, env, "verify", "latest", "--database", "shop", "--json")
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); print(__import__('json').dumps(" \
           "__import__('make_fixtures').populate()))"
    made = json.loads(manage(checkout, env, "shell", "-c", code).strip().splitlines()[-1])
    day = runs[0]["started_at"][:10]  # UTC, ISO 8601
    manage(checkout, env, "export_evidence", "--since", day, "--until", day, "--output", str(work / "cli.zip"))
    manage(checkout, env, "sync_schedules")
    head = json.loads(manage(checkout, env, "verify_audit_log", "--anchor", "--json"))
    assert head["intact"], head
    made.update(audit_events=head["count"], backup_runs=[r["id"] for r in runs])
    return {"made": made, "anchor": (work / "anchor.jsonl").read_text()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, required=True, help="a checkout of the old commit, with its .venv")
    parser.add_argument("--pg-dsn", default=os.environ.get("LIFEBOAT_TEST_PG_DSN", DEFAULT_DSN))
    parser.add_argument("--out", type=Path, default=HERE / "fixtures")
    opts = parser.parse_args()
    checkout = opts.checkout.resolve()
    commit = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=checkout, capture_output=True, text=True,
                            check=True).stdout.strip()
    opts.out.mkdir(parents=True, exist_ok=True)
    stem = opts.out / f"lifeboat-{commit}"
    suffix = uuid.uuid4().hex[:10]
    source, dashboard_db = f"lbt_upgrade_src_{suffix}", f"lbt_upgrade_dash_{suffix}"
    psql(opts.pg_dsn, f"CREATE DATABASE {source}")
    psql(with_dbname(opts.pg_dsn, source), SOURCE_SCHEMA)
    psql(opts.pg_dsn, f"CREATE DATABASE {dashboard_db}")
    summary = {"commit": commit, "installations": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="lifeboat-upgrade-") as tmp:
            work = Path(tmp) / "sqlite"
            made = make_installation(checkout, work, opts.pg_dsn, source, None)
            sqlite_out = Path(f"{stem}.sqlite3")
            sqlite_out.unlink(missing_ok=True)
            with sqlite3.connect(work / "var" / "lifeboat.sqlite3") as db:
                db.execute("VACUUM INTO ?", (str(sqlite_out),))
            with sqlite3.connect(sqlite_out) as db:
                db.execute("PRAGMA journal_mode=DELETE")
            Path(f"{stem}.sqlite.anchor.jsonl").write_text(made["anchor"])
            summary["installations"]["sqlite"] = made["made"]

            work = Path(tmp) / "pg"
            made = make_installation(checkout, work, opts.pg_dsn, source, with_dbname(opts.pg_dsn, dashboard_db))
            subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--file", f"{stem}.pg.sql",
                            with_dbname(opts.pg_dsn, dashboard_db)], check=True)
            Path(f"{stem}.pg.anchor.jsonl").write_text(made["anchor"])
            summary["installations"]["pg"] = made["made"]
    finally:
        for name in (dashboard_db, source):
            psql(opts.pg_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    summary.update(user_grants=USER_GRANTS, group_grants=GROUP_GRANTS)
    Path(f"{stem}.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    for path in sorted(opts.out.glob(f"lifeboat-{commit}*")):
        print(f"{path} {path.stat().st_size} bytes")


if __name__ == "__main__":
    if shutil.which("pg_dump") is None:
        sys.exit("pg_dump is not on PATH")
    main()
