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
from backups import encryption
from backups.conninfo import ConnectionOptions
from backups.engine import archive_toc, pgtools
from backups.errors import ConfigurationError, LifeboatError, RestoreFailed
from backups.models import Artifact, Restore
from backups.recovery import database_properties, identity, restore_role, table_selection
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
                    no_acl: bool | None = None, application_name: str = "lifeboat-restore") -> list[str]:
    """`no_acl` defaults to `no_owner` (another server: neither the owners nor the grantees exist there)."""
    argv = [pgtools.pg_binary("pg_restore"), *target.cli_args(application_name=application_name), "--exit-on-error"]
    if no_owner:
        argv.append("--no-owner")
    if no_owner if no_acl is None else no_acl:
        argv.append("--no-acl")
    for table in tables:
        argv.append(f"--table={table}")
    return argv


def stream_artifact(artifact: Artifact, argv: list[str], env: dict[str, str]) -> None:
    """Decompress the artifact into a program's stdin; fail if it fails or if the bytes are not the recorded ones.

    pg_restore with a --use-list exits (0) as soon as it has the entries it was asked for, without reading the
    rest: its closed stdin is then no error, and the rest of the artifact is still read (not fed) so that the
    whole artifact's SHA-256 is compared with the record (not after a failure: that is reported at once). `env`
    is the program's whole environment (ConnectionOptions.env()).
    """
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = pgtools.StderrDrain(proc.stderr)
    try:
        with open_artifact(artifact) as raw:
            hashing = HashingReader(raw)
            with encryption.opened(hashing, artifact.location) as plain, \
                    zstandard.ZstdDecompressor().stream_reader(plain, read_size=CHUNK) as data:
                while chunk := data.read(CHUNK):
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        break
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            if proc.wait() == 0:  # what it did not need is still read, for the checksum
                for _ in hashing.chunks(CHUNK):
                    pass
    except zstandard.ZstdError as exc:
        proc.kill()
        raise RestoreFailed(f"the artifact is corrupt (zstd: {exc})") from None
    except BaseException:  # e.g. EncryptionError (no or the wrong identity): pg_restore must not wait for more
        proc.kill()
        raise
    finally:
        returncode = proc.wait()
        message = stderr.join().strip()
    if returncode != 0:
        raise RestoreFailed(f"{argv[0].rsplit('/', 1)[-1]} exited with status {returncode}: {message or 'no message'}")
    if artifact.sha256 and hashing.sha256 != artifact.sha256:
        raise RestoreFailed(f"checksum mismatch: artifact is {hashing.sha256}, recorded {artifact.sha256}")


def check_decryptable(artifact: Artifact) -> None:
    """A copy we hold no key for fails here in one line, before any database is created, dropped or renamed."""
    if encryption.is_encrypted(artifact.location):
        with open_artifact(artifact) as raw:
            encryption.check_readable(raw, artifact.location)


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
    with storage.open(artifact.globals_location) as fh, encryption.opened(fh, artifact.globals_location) as plain:
        statements = plain.read()  # roles and tablespaces: small, and decrypted before psql starts
    proc = subprocess.run(argv, input=statements, capture_output=True, env=server.env())
    if proc.returncode != 0:
        raise RestoreFailed(f"psql could not apply the globals: {proc.stderr.decode(errors='replace').strip()}")
    notes = proc.stderr.decode(errors="replace").strip()
    record.log += "globals restored" + (f" (notes: {notes})" if notes else "") + "\n"


def validate_request(artifact: Artifact, target_database: str, tables: Sequence[str] = (),
                     target: ConnectionOptions | None = None) -> list[TableName]:
    """Refuse a bad name, a bad table list, or any database Lifeboat protects (asked of the target server: an alias
    of the source's host is the same server); returns the tables' names."""
    pgtools.validate_dbname(target_database, "target database name")
    parsed = _validate_tables(tables)
    identity.refuse_protected((target or source_target(artifact)).with_dbname("postgres"), target_database)
    return parsed


def refuse_existing_target(artifact: Artifact, target_database: str) -> None:
    """The dashboard restores only into a new database: refuse a name already taken on the source's server before
    anything is queued, saying why in its own words (the command line's flags mean nothing there)."""
    pgtools.validate_dbname(target_database, "target database name")
    server = source_target(artifact).with_dbname("postgres")
    if not database_exists(server, target_database):
        return
    reason = identity.protected_match(server, target_database)
    protected = f" ({reason})" if reason and "--" not in reason else ""
    raise ConfigurationError(f"a database named {target_database} already exists on {server.host}:{server.port}"
                             f"{protected}. The dashboard restores only into a new database: choose a name that "
                             f"is not taken.")


def restore(artifact: Artifact, target_database: str, *, target: ConnectionOptions | None = None,
            tables: Sequence[str] = (), with_globals: bool = False, force: bool = False, no_owner: bool = False,
            as_superuser: bool = False, owner: str | None = None, user=None, record: Restore | None = None
            ) -> Restore:
    """Restore into a new database, on the source server or on `target` (another server, e.g. after its loss).

    With `tables`, only those tables are restored (accidental deletion: compare, then copy rows back).
    Refuses an existing database unless force, and always refuses a database Lifeboat protects (see replace.py).
    The backup is loaded by the restricted restore role (--no-owner; the database stays its own unless `owner`
    names the role to hand it to); `as_superuser` only on a server an Admin marked isolated.
    `record` is a queued Restore (from the dashboard) to fill in; without it a new one is created.
    """
    server = (target or source_target(artifact)).with_dbname("postgres")
    parsed_tables = validate_request(artifact, target_database, tables, target=server)
    if owner:
        pgtools.validate_dbname(owner, "owner role")
        restore_role.check_owner(server, owner)
    loader = restore_role.loader_for(server, superuser=as_superuser)
    fields = dict(
        artifact=artifact, mode=Restore.Mode.TABLES if tables else Restore.Mode.NEW_DATABASE,
        status=Restore.Status.RUNNING, requested_by=user, target_dsn=server.with_dbname(target_database).dsn,
        target_database=target_database, tables=[str(t) for t in parsed_tables],
        with_globals=with_globals, started_at=timezone.now(), restored_as=loader.role,
    )
    record_given = record is not None
    if record is None:
        record = Restore.objects.create(**fields)
    else:
        for name, value in fields.items():
            setattr(record, name, value)
        record.save()
    jobs.start_heartbeat(record)  # stopped by _finish, whatever the outcome
    try:
        check_decryptable(artifact)
        toc = archive_toc.read_artifact_toc(artifact)  # an unknown table is refused before anything changes
        chosen = table_selection.select_tables(toc, parsed_tables) if parsed_tables else None
        properties = database_properties.from_toc(toc)
        if with_globals:
            restore_globals(artifact, server, record)
        if database_exists(server, target_database):
            if not force and record_given:  # queued from the dashboard: the name was free when it was asked for
                raise ConfigurationError(f"a database named {target_database} was created on the server after "
                                         f"this restore was asked for; nothing was overwritten: restore into a new "
                                         f"name")
            if not force:
                raise ConfigurationError(f"database {target_database} already exists (use --force to replace it)")
            identity.refuse_protected(server, target_database)  # asked again right before the drop
            drop_database(server, target_database)
        load_into(artifact, loader, server, target_database, toc=toc, chosen=chosen, properties=properties,
                  record=record, no_owner=no_owner)
        if not parsed_tables:
            # The database's owner from the backup only where the loader could give it (an isolated server);
            # otherwise the restore role keeps it unless --owner hands it over (see below).
            keep_properties(server, target_database, properties, record, owner=loader.superuser and not no_owner)
        if owner:
            record.log += restore_role.hand_over(server, target_database, loader.role, owner,
                                                 public_schema=lists_public_schema(toc)) + "\n"
        elif not loader.superuser:
            record.log += (f"restored by {loader.role} with --no-owner: {target_database} and its objects belong to "
                           f"{loader.role} (restore with --owner ROLE to hand them over)\n")
        record.status = Restore.Status.SUCCEEDED
    except (LifeboatError, psycopg.Error) as exc:
        record.status = Restore.Status.FAILED
        record.error = " ".join(str(exc).split())
    except Exception as exc:  # unexpected: the restore is failed with what it said, never left running
        log.exception("restore %s failed", record.pk)
        record.status, record.error = Restore.Status.FAILED, jobs.error_text(exc)
    return _finish(record, user)


def lists_public_schema(toc: archive_toc.ArchiveToc) -> bool:
    """The archive has the public schema as an object of its own: a role, not pg_database_owner, owned it."""
    return any(e.desc == "SCHEMA" and not e.schema and e.tag == "public" for e in toc.entries)


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


def load_into(artifact: Artifact, loader: restore_role.Loader, server: ConnectionOptions, dbname: str, *,
              toc: archive_toc.ArchiveToc, properties: database_properties.DatabaseProperties | None,
              record: Restore, chosen: table_selection.Selection | None = None, no_owner: bool = False) -> None:
    """Create `dbname` like the backup's database (encoding, locale), owned by the loader, and pg_restore the
    artifact into it as the loader (only the chosen tables and what they need, when chosen); dropped again on
    failure (a half-restored database is not left to be mistaken)."""
    _log(record, database_properties.create_database_like(
        server, dbname, properties, owner=None if loader.superuser else loader.role))
    argv = pg_restore_argv(loader.target.with_dbname(dbname), no_owner=no_owner or not loader.superuser,
                           no_acl=no_owner)
    try:
        with table_list_args(toc, chosen, record) as selection:
            stream_artifact(artifact, argv + selection, loader.target.env())
    except LifeboatError as exc:
        drop_database(server, dbname)
        raise restore_role.classify(exc, loader) if isinstance(exc, RestoreFailed) else exc from None


def restore_new_database(artifact: Artifact, target_database: str, *, force: bool = False, user=None,
                         no_owner: bool = False) -> Restore:
    return restore(artifact, target_database, force=force, no_owner=no_owner, user=user)


def forensic_name(dbname: str, now) -> str:
    suffix = f"_forensic_{now:%Y%m%d_%H%M%S}"
    return dbname[: 63 - len(suffix)] + suffix


def _finish(record: Restore, user) -> Restore:
    """running -> its outcome, only if still running (a restore the reaper abandoned stays abandoned)."""
    jobs.stop_heartbeat(record)
    record.finished_at = timezone.now()
    if not jobs.finish(record, record.status, error=record.error, finished_at=record.finished_at, log=record.log,
                       forensic_database=record.forensic_database, steps=record.steps,
                       production_state=record.production_state):
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
                          "restored_as": record.restored_as, "steps": record.steps,
                          "production_state": record.production_state,
                          "seconds": record.duration.total_seconds() if record.duration else None})
    restore_finished.send(sender=Restore, restore=record)
