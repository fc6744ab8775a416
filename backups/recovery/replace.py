"""restore --replace: restore over a production database as named steps, each recorded, undone on failure.

The backup is restored into a new database first (as the restricted restore role, then handed to production's
owner); only then are connections to production refused and terminated, production renamed to
<db>_forensic_<time> (the untouched evidence) and the restored database renamed into its place, and connections to
the forensic copy allowed again. A failure at any step undoes the steps done, newest first: production keeps its
name and accepts connections again, and the incoming database is dropped. Which step failed, and the state
production was found in afterwards, are recorded on the Restore. The rights every step needs are checked before
production is touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.utils import timezone
from psycopg import sql

from backups.conninfo import ConnectionOptions
from backups.engine import archive_toc
from backups.errors import ConfigurationError, LifeboatError
from backups.models import Artifact, Restore
from backups.recovery import database_properties, identity, restore_role
from backups.recovery.restore import (
    _finish,
    drop_database,
    forensic_name,
    keep_properties,
    lists_public_schema,
    load_into,
    source_target,
)
from core import heartbeat as jobs

log = logging.getLogger(__name__)

RENAME_ATTEMPTS = 6
# Called with ("before:<step>", plan) before each step and each undo: the fault-injection tests make a step fail
# for real there (and lift the fault before the undo where the fault would block it).
fault_hook: Callable[[str, Plan], None] | None = None


@dataclass
class Plan:
    artifact: Artifact
    server: ConnectionOptions  # Lifeboat's login on production's server, database "postgres"
    production: str
    incoming: str
    forensic: str
    loader: restore_role.Loader
    owner: str = ""  # production's owner, who receives the restored database
    no_owner: bool = False
    # Read from the artifact once the job runs: its table of contents and the database's own properties.
    toc: archive_toc.ArchiveToc | None = None
    properties: database_properties.DatabaseProperties | None = None
    record: Restore | None = None

    def connect(self) -> psycopg.Connection:
        return self.server.connect(dbname="postgres")


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _allow_connections(plan: Plan, dbname: str, allowed: bool) -> None:
    with plan.connect() as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            _ident(dbname), sql.SQL("true" if allowed else "false")))


# --- before anything: the rights every step needs ---------------------------------------------------------------

RIGHTS_SQL = """
SELECT r.rolsuper, r.rolcreatedb, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'),
       d.datdba::regrole::text, pg_has_role(current_user, d.datdba, 'MEMBER'), current_user
FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = %s
"""
BLOCKING_SESSIONS_SQL = """
SELECT DISTINCT a.usename FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.datname = %s AND a.pid <> pg_backend_pid()
  AND (r.rolsuper OR NOT (%s OR pg_has_role(current_user, a.usesysid, 'MEMBER')))
"""


def missing_rights(plan: Plan) -> list[str]:
    """What Lifeboat's login lacks to carry out every step (empty when nothing is missing)."""
    with plan.connect() as conn:
        row = conn.execute(RIGHTS_SQL, (plan.production,)).fetchone()
        if row is None:
            return [f"database {plan.production} does not exist on {plan.server.host}:{plan.server.port}"]
        superuser, createdb, signal, owner, owns, me = row
        plan.owner = owner
        if superuser:
            return []
        missing = []
        if not createdb:
            missing.append(f"CREATEDB for {me} (to create the incoming database and to rename databases)")
        if not owns:
            missing.append(f"ownership of {plan.production}: {me} is not a member of its owner {owner}")
        if not plan.loader.superuser and not conn.execute(
                "SELECT pg_has_role(current_user, %s, 'MEMBER')", (plan.loader.role,)).fetchone()[0]:
            missing.append(f"membership of {me} in the restore role {plan.loader.role} "
                           "(run manage.py setup_database_roles)")
        blocking = [r[0] for r in conn.execute(BLOCKING_SESSIONS_SQL, (plan.production, signal)).fetchall()]
        if blocking:
            missing.append(f"the right to end the sessions of {', '.join(blocking)} on {plan.production} "
                           f"({me} is not superuser{'' if signal else ' nor in pg_signal_backend'}): close them first")
        elif not signal:
            missing.append(f"pg_signal_backend membership for {me} (to end sessions on {plan.production})")
        return missing


# --- the steps ---------------------------------------------------------------------------------------------------


def restore_incoming(plan: Plan) -> str:
    drop_database(plan.server, plan.incoming)
    load_into(plan.artifact, plan.loader, plan.server, plan.incoming, toc=plan.toc, properties=plan.properties,
              record=plan.record, no_owner=plan.no_owner)
    # Production comes back with its own settings, ACL, comment and limit (its owner: handed over below).
    keep_properties(plan.server, plan.incoming, plan.properties, plan.record,
                    owner=plan.loader.superuser and not plan.no_owner)
    if plan.loader.superuser:
        return f"restored into {plan.incoming}"
    try:
        restore_role.check_owner(plan.server, plan.owner)
    except ConfigurationError as exc:  # production owned by a superuser: the restored objects stay the role's
        return f"restored into {plan.incoming} as {plan.loader.role}; not handed over: {exc}"
    note = restore_role.hand_over(plan.server, plan.incoming, plan.loader.role, plan.owner,
                                  public_schema=plan.toc is not None and lists_public_schema(plan.toc))
    return f"restored into {plan.incoming} as {plan.loader.role}; {note}"


def refuse_connections(plan: Plan) -> str:
    _allow_connections(plan, plan.production, False)
    return f"{plan.production} refuses new connections"


def terminate_sessions(plan: Plan) -> str:
    """End every other session on production; fail (to be undone) if any is still there after a short wait."""
    with plan.connect() as conn:
        ended = 0
        for _ in range(RENAME_ATTEMPTS):
            rows = conn.execute("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (plan.production,)).fetchall()
            ended += sum(1 for _, ok in rows if ok)
            if not rows:
                return f"{ended} sessions on {plan.production} ended"
            time.sleep(0.2)
        left = conn.execute("SELECT string_agg(DISTINCT usename, ', ') FROM pg_stat_activity WHERE datname = %s "
                            "AND pid <> pg_backend_pid()", (plan.production,)).fetchone()[0]
    raise ConfigurationError(f"sessions of {left} on {plan.production} could not be ended")


def rename(plan: Plan, old: str, new: str) -> None:
    """ALTER DATABASE RENAME, ending sessions that hold `old` (autovacuum connects to a fresh database) and trying
    again, a bounded number of times."""
    with plan.connect() as conn:
        for attempt in range(1, RENAME_ATTEMPTS + 1):
            try:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(old), _ident(new)))
                return
            except psycopg.errors.ObjectInUse:
                if attempt == RENAME_ATTEMPTS:
                    raise
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (old,))
                time.sleep(0.1 * attempt)


def rename_production_to_forensic(plan: Plan) -> str:
    rename(plan, plan.production, plan.forensic)
    return f"production kept as {plan.forensic}"


def rename_incoming_into_place(plan: Plan) -> str:
    rename(plan, plan.incoming, plan.production)
    return f"restored copy renamed to {plan.production}"


def allow_connections(plan: Plan) -> str:
    _allow_connections(plan, plan.forensic, True)
    return f"{plan.forensic} accepts connections again (for inspection)"


# --- undoing them, newest first ------------------------------------------------------------------------------------


def undo_restore_incoming(plan: Plan) -> str:
    drop_database(plan.server, plan.incoming)
    return f"{plan.incoming} dropped"


def undo_refuse_connections(plan: Plan) -> str:
    _allow_connections(plan, plan.production, True)
    return f"{plan.production} accepts connections again"


def undo_rename_production_to_forensic(plan: Plan) -> str:
    rename(plan, plan.forensic, plan.production)
    return f"{plan.forensic} renamed back to {plan.production}"


def undo_rename_incoming_into_place(plan: Plan) -> str:
    rename(plan, plan.production, plan.incoming)
    return f"restored copy renamed back to {plan.incoming}"


def undo_allow_connections(plan: Plan) -> str:
    _allow_connections(plan, plan.forensic, False)
    return f"{plan.forensic} refuses connections again"


Step = tuple[str, Callable[[Plan], str], Callable[[Plan], str] | None, bool]
# (name, do, undo, undo also when the step itself failed: a half-made incoming database is dropped)
STEPS: list[Step] = [
    ("restore_incoming", restore_incoming, undo_restore_incoming, True),
    ("refuse_connections", refuse_connections, undo_refuse_connections, False),
    ("terminate_sessions", terminate_sessions, None, False),
    ("rename_production_to_forensic", rename_production_to_forensic, undo_rename_production_to_forensic, False),
    ("rename_incoming_into_place", rename_incoming_into_place, undo_rename_incoming_into_place, False),
    ("allow_connections", allow_connections, undo_allow_connections, False),
]


def production_state(plan: Plan) -> str:
    """Production as the server shows it now: its name, whether it accepts connections, what else is there."""
    try:
        with plan.connect() as conn:
            rows = dict(conn.execute("SELECT datname, datallowconn FROM pg_database WHERE datname = ANY(%s)",
                                     ([plan.production, plan.forensic, plan.incoming],)).fetchall())
    except LifeboatError as exc:
        return f"unknown: {exc}"
    if plan.production not in rows:
        parts = [f"ATTENTION: no database is named {plan.production}"]
    else:
        parts = [f"{plan.production} present, connections "
                 f"{'allowed' if rows[plan.production] else 'REFUSED (ALTER DATABASE ... ALLOW_CONNECTIONS true)'}"]
    for other in (plan.forensic, plan.incoming):
        if other in rows:
            parts.append(f"{other} present{'' if rows[other] else ' (connections refused)'}")
    return "; ".join(parts)


def _step(record: Restore, name: str, status: str, detail: str) -> None:
    record.steps.append({"name": name, "status": status, "detail": " ".join(detail.split()),
                         "at": timezone.now().isoformat()})
    Restore.objects.filter(pk=record.pk).update(steps=record.steps)


def run_steps(plan: Plan, record: Restore) -> None:
    """Every step in order; on a failure, undo what was done (newest first) and raise the step's error."""
    done: list[Step] = []
    for step in STEPS:
        name, do, _undo, _undo_failed = step
        try:
            if fault_hook is not None:
                fault_hook(f"before:{name}", plan)
            _step(record, name, "done", do(plan))
            done.append(step)
        except (LifeboatError, psycopg.Error) as exc:
            message = " ".join(str(exc).split())
            _step(record, name, "failed", message)
            if step[3]:
                done.append(step)
            undo(plan, record, done)
            raise StepFailed(name, message) from None


def undo(plan: Plan, record: Restore, done: list[Step]) -> None:
    for name, _do, reverse, _ in reversed(done):
        if reverse is None:
            continue
        try:
            if fault_hook is not None:
                fault_hook(f"before:undo_{name}", plan)
            _step(record, f"undo_{name}", "done", reverse(plan))
        except (LifeboatError, psycopg.Error) as exc:  # recorded; the other undos still run
            log.error("replace of %s: undoing %s failed: %s", plan.production, name, exc)
            _step(record, f"undo_{name}", "failed", str(exc))


class StepFailed(LifeboatError):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step {step} failed: {message}")
        self.step = step


def replace(artifact: Artifact, *, confirm: str, user=None, no_owner: bool = False,
            as_superuser: bool = False) -> Restore:
    """Restore over the production database (ransomware): keep the evidence, then restore. See the module doc."""
    source = source_target(artifact)
    if confirm != source.dbname:
        raise ConfigurationError(
            f"replacing {source.dbname} needs its name typed again as confirmation (got {confirm!r})"
        )
    server = source.with_dbname("postgres")
    # Any other protected database under the same name on this server (an alias registered twice) is refused.
    identity.refuse_protected(server, source.dbname, allow=artifact.run.database)
    loader = restore_role.loader_for(server, superuser=as_superuser)
    now = timezone.now()
    plan = Plan(artifact=artifact, server=server, production=source.dbname,
                incoming=f"{source.dbname[:40]}_lifeboat_incoming_{now:%H%M%S}",
                forensic=forensic_name(source.dbname, now), loader=loader, no_owner=no_owner)
    record = Restore.objects.create(
        artifact=artifact, mode=Restore.Mode.REPLACE, status=Restore.Status.RUNNING, requested_by=user,
        target_dsn=source.dsn, target_database=source.dbname, forensic_database=plan.forensic, started_at=now,
        restored_as=loader.role,
    )
    jobs.start_heartbeat(record)  # stopped by _finish, whatever the outcome
    try:
        plan.toc = archive_toc.read_artifact_toc(artifact)
        plan.properties, plan.record = database_properties.from_toc(plan.toc), record
        missing = missing_rights(plan)
        if missing:
            _step(record, "check_rights", "failed", "; ".join(missing))
            raise ConfigurationError("refused before touching production, missing: " + "; ".join(missing))
        _step(record, "check_rights", "done", f"rights present; production owner {plan.owner}")
        run_steps(plan, record)
        record.log += f"production kept as {plan.forensic}; restored copy renamed to {plan.production}\n"
        record.status = Restore.Status.SUCCEEDED
    except (LifeboatError, psycopg.Error) as exc:
        record.status = Restore.Status.FAILED
        record.forensic_database = ""
        record.error = " ".join(str(exc).split())
    except Exception as exc:  # unexpected: the restore is failed with what it said, never left running
        log.exception("restore %s failed", record.pk)
        record.status, record.forensic_database, record.error = Restore.Status.FAILED, "", jobs.error_text(exc)
    record.production_state = production_state(plan)
    return _finish(record, user)
