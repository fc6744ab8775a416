"""Restores: stream an artifact (zstd -dc) into pg_restore, recorded as a Restore row with its outcome.

Data never sits in memory whole: the artifact is read, hashed and decompressed in chunks into pg_restore's stdin.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
import zstandard
from django.utils import timezone
from psycopg import sql

from audit import trail
from backups.conninfo import ConnectionOptions
from backups.engine import archive_toc, pgtools
from backups.errors import ConfigurationError, LifeboatError, RestoreFailed
from backups.models import Artifact, Restore
from backups.recovery import database_properties, table_selection
from backups.recovery.table_selection import TableName
from backups.signals import restore_finished
from backups.storage import open_artifact, storage_for
from backups.storage.interface import CHUNK, HashingReader
from core import heartbeat as jobs

log = logging.getLogger(__name__)


def source_target(artifact: Artifact) -> ConnectionOptions:
    return artifact.run.database.connection_options()


def database_exists(server: ConnectionOptions, name: str) -> bool:
    with server.connect(dbname="postgres") as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def create_database(server: ConnectionOptions, name: str, *, template: str | None = None) -> None:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with server.connect(dbname="postgres") as conn:
        conn.execute(query)


def drop_database(server: ConnectionOptions, name: str) -> None:
    """DROP ... WITH (FORCE) terminates remaining connections first (PostgreSQL 13+)."""
    with server.connect(dbname="postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_restore_argv(target: ConnectionOptions, *, tables: Sequence[str] = (), no_owner: bool = False,
                    application_name: str = "lifeboat-restore") -> list[str]:
    argv = [pgtools.pg_binary("pg_restore"), *target.cli_args(application_name=application_name), "--exit-on-error"]
    if no_owner:
        argv += ["--no-owner", "--no-acl"]
    for table in tables:
        argv.append(f"--table={table}")
    return argv


def stream_artifact(artifact: Artifact, argv: list[str], env: dict[str, str]) -> None:
    """Decompress the artifact into a program's stdin; fail if it fails or if the bytes are not the recorded ones.

    `env` is the program's whole environment (ConnectionOptions.env()).
    """
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = pgtools.StderrDrain(proc.stderr)
    broken = False
    try:
        with open_artifact(artifact) as raw:
            hashing = HashingReader(raw)
            with zstandard.ZstdDecompressor().stream_reader(hashing, read_size=CHUNK) as data:
                while chunk := data.read(CHUNK):
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        broken = True
                        break
        try:
            proc.stdin.close()
        except BrokenPipeError:
            broken = True
    except zstandard.ZstdError as exc:
        proc.kill()
        raise RestoreFailed(f"the artifact is corrupt (zstd: {exc})") from None
    finally:
        returncode = proc.wait()
        message = stderr.join().strip()
    if returncode != 0 or broken:
        raise RestoreFailed(f"{argv[0].rsplit('/', 1)[-1]} exited with status {returncode}: {message or 'no message'}")
    if artifact.sha256 and hashing.sha256 != artifact.sha256:
        raise RestoreFailed(f"checksum mismatch: artifact is {hashing.sha256}, recorded {artifact.sha256}")


def _validate_tables(tables: Sequence[str]) -> list[TableName]:
    """Table names as PostgreSQL quotes them ('users' is public.users); any legal identifier is accepted, since
    names only ever reach pg_restore through a --use-list file (see table_list_args)."""
    return table_selection.parse_table_names(tables)


@contextmanager
def table_list_args(toc: archive_toc.ArchiveToc, chosen: table_selection.Selection | None, record: Restore
                    ) -> Iterator[list[str]]:
    """pg_restore arguments restoring only the chosen tables (their rows) and the definitions they need (see
    table_selection.select_tables), handed over in a --use-list file; no arguments for a whole restore."""
    if chosen is None:
        yield []
        return
    if chosen.skipped:
        record.log += f"foreign keys to tables not restored, left out: {', '.join(chosen.skipped)}\n"
    with tempfile.NamedTemporaryFile("w", prefix="lifeboat-tables-", suffix=".list", encoding="utf-8") as listing:
        listing.write(toc.use_list(chosen.dump_ids))
        listing.flush()
        yield [f"--use-list={listing.name}"]


def restore_globals(artifact: Artifact, server: ConnectionOptions, record: Restore) -> None:
    """Roles and tablespaces first (server-loss recovery). Existing roles only produce notices, kept in the log."""
    if not artifact.globals_location:
        raise RestoreFailed("this backup has no globals file to restore")
    storage = storage_for(artifact.tier)
    argv = [pgtools.pg_binary("psql"), *server.cli_args(dbname="postgres", application_name="lifeboat-restore"),
            "--no-psqlrc", "--quiet", "--file=-"]
    with storage.open(artifact.globals_location) as fh:
        proc = subprocess.run(argv, stdin=fh, capture_output=True, env=server.env())
    if proc.returncode != 0:
        raise RestoreFailed(f"psql could not apply the globals: {proc.stderr.decode(errors='replace').strip()}")
    notes = proc.stderr.decode(errors="replace").strip()
    record.log += "globals restored" + (f" (notes: {notes})" if notes else "") + "\n"


def validate_request(artifact: Artifact, target_database: str, tables: Sequence[str] = (),
                     target: ConnectionOptions | None = None) -> list[TableName]:
    """Refuse a bad name, a bad table list, or the protected database itself; returns the tables' names."""
    database = artifact.run.database
    host, port = (target.host, target.port) if target else (database.host, database.port)
    pgtools.validate_dbname(target_database, "target database name")
    if (host, port, target_database) == (database.host, database.port, database.dbname):
        raise ConfigurationError(
            f"{target_database} is the protected database itself; restoring over it needs --replace"
        )
    return _validate_tables(tables)


def restore(artifact: Artifact, target_database: str, *, target: ConnectionOptions | None = None,
            tables: Sequence[str] = (), with_globals: bool = False,
            force: bool = False, no_owner: bool = False, user=None, record: Restore | None = None) -> Restore:
    """Restore into a new database, on the source server or on `target` (another server, e.g. after its loss).

    With `tables`, only those tables are restored (accidental deletion: compare, then copy rows back).
    Refuses an existing database unless force, and always refuses the protected database itself (see replace()).
    `record` is a queued Restore (from the dashboard) to fill in; without it a new one is created.
    """
    server = (target or source_target(artifact)).with_dbname("postgres")
    parsed_tables = validate_request(artifact, target_database, tables, target=target)
    fields = dict(
        artifact=artifact, mode=Restore.Mode.TABLES if tables else Restore.Mode.NEW_DATABASE,
        status=Restore.Status.RUNNING, requested_by=user, target_dsn=server.with_dbname(target_database).dsn,
        target_database=target_database, tables=[str(t) for t in parsed_tables],
        with_globals=with_globals, started_at=timezone.now(),
    )
    if record is None:
        record = Restore.objects.create(**fields)
    else:
        for name, value in fields.items():
            setattr(record, name, value)
        record.save()
    jobs.start_heartbeat(record)  # stopped by _finish, whatever the outcome
    try:
        toc = archive_toc.read_artifact_toc(artifact)  # an unknown table is refused before anything changes
        chosen = table_selection.select_tables(toc, parsed_tables) if parsed_tables else None
        properties = database_properties.from_toc(toc)
        if with_globals:
            restore_globals(artifact, server, record)
        if database_exists(server, target_database):
            if not force:
                raise ConfigurationError(f"database {target_database} already exists (use --force to replace it)")
            drop_database(server, target_database)
        _log(record, database_properties.create_database_like(server, target_database, properties))
        argv = pg_restore_argv(server.with_dbname(target_database), no_owner=no_owner)
        try:
            with table_list_args(toc, chosen, record) as selection:
                stream_artifact(artifact, argv + selection, server.env())
        except LifeboatError:
            drop_database(server, target_database)  # a half-restored database is not left to be mistaken
            raise
        if not parsed_tables:
            keep_properties(server, target_database, properties, record, owner=not no_owner)
        record.status = Restore.Status.SUCCEEDED
    except (LifeboatError, psycopg.Error) as exc:
        record.status = Restore.Status.FAILED
        record.error = " ".join(str(exc).split())
    except Exception as exc:  # unexpected: the restore is failed with what it said, never left running
        log.exception("restore %s failed", record.pk)
        record.status, record.error = Restore.Status.FAILED, jobs.error_text(exc)
    return _finish(record, user)


def keep_properties(server: ConnectionOptions, dbname: str, properties: database_properties.DatabaseProperties | None,
                    record: Restore, *, owner: bool) -> None:
    """The database's own properties from the backup (owner, ACL, settings...), applied once the data is in;
    what the server refuses is logged as not restorable here."""
    notes = database_properties.restore_onto(server, dbname, properties, owner=owner)
    if properties is not None:
        record.log += f"database properties: {properties.summary() or 'none beyond the defaults'}\n"
    _log(record, notes)


def _log(record: Restore, lines: list[str]) -> None:
    record.log += "".join(f"{line}\n" for line in lines)


def restore_new_database(artifact: Artifact, target_database: str, *, force: bool = False, user=None,
                         no_owner: bool = False) -> Restore:
    return restore(artifact, target_database, force=force, no_owner=no_owner, user=user)


def forensic_name(dbname: str, now) -> str:
    suffix = f"_forensic_{now:%Y%m%d_%H%M%S}"
    return dbname[: 63 - len(suffix)] + suffix


def replace(artifact: Artifact, *, confirm: str, user=None, no_owner: bool = False) -> Restore:
    """Restore over the production database (ransomware): keep the evidence, then restore.

    The backup is restored into a new database first; only when that succeeded are connections to production
    refused and terminated, production renamed to <db>_forensic_<time> (the untouched evidence) and the restored
    database renamed into its place. A failed restore leaves production as it was.
    """
    source = source_target(artifact)
    if confirm != source.dbname:
        raise ConfigurationError(
            f"replacing {source.dbname} needs its name typed again as confirmation (got {confirm!r})"
        )
    now = timezone.now()
    incoming = f"{source.dbname[:40]}_lifeboat_incoming_{now:%H%M%S}"
    forensic = forensic_name(source.dbname, now)
    record = Restore.objects.create(
        artifact=artifact, mode=Restore.Mode.REPLACE, status=Restore.Status.RUNNING, requested_by=user,
        target_dsn=source.dsn, target_database=source.dbname, forensic_database=forensic, started_at=now,
    )
    jobs.start_heartbeat(record)  # stopped by _finish, whatever the outcome
    server = source.with_dbname("postgres")
    try:
        drop_database(server, incoming)
        properties = database_properties.from_toc(archive_toc.read_artifact_toc(artifact))
        _log(record, database_properties.create_database_like(server, incoming, properties))
        try:
            stream_artifact(artifact, pg_restore_argv(server.with_dbname(incoming), no_owner=no_owner), server.env())
        except LifeboatError:
            drop_database(server, incoming)
            raise
        keep_properties(server, incoming, properties, record, owner=not no_owner)
        with server.connect() as conn:
            ident = sql.Identifier(source.dbname)
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (source.dbname,))
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident, sql.Identifier(forensic)))
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(incoming), ident))
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(forensic)))
        record.log += f"production kept as {forensic}; restored copy renamed to {source.dbname}\n"
        record.status = Restore.Status.SUCCEEDED
    except (LifeboatError, psycopg.Error) as exc:
        record.status = Restore.Status.FAILED
        record.forensic_database = ""
        record.error = " ".join(str(exc).split())
    except Exception as exc:  # unexpected: the restore is failed with what it said, never left running
        log.exception("restore %s failed", record.pk)
        record.status, record.forensic_database, record.error = Restore.Status.FAILED, "", jobs.error_text(exc)
    return _finish(record, user)


def _finish(record: Restore, user) -> Restore:
    """running -> its outcome, only if still running (a restore the reaper abandoned stays abandoned)."""
    jobs.stop_heartbeat(record)
    record.finished_at = timezone.now()
    if not jobs.finish(record, record.status, error=record.error, finished_at=record.finished_at, log=record.log,
                       forensic_database=record.forensic_database):
        record.refresh_from_db(fields=["status", "error", "finished_at"])
    announce(record, user)
    return record


def announce(record: Restore, user) -> None:
    artifact = record.artifact
    trail.record(f"restore.{record.status}", actor=user, target=record,
                 summary=f"{record.get_mode_display().lower()}: {artifact.run.database.name} run #{artifact.run_id} "
                         f"into {record.target_database} {record.status}",
                 details={"artifact": artifact.pk, "location": artifact.location, "target": record.target_dsn,
                          "mode": record.mode, "tables": record.tables, "with_globals": record.with_globals,
                          "forensic_database": record.forensic_database, "error": record.error,
                          "seconds": record.duration.total_seconds() if record.duration else None})
    restore_finished.send(sender=Restore, restore=record)
