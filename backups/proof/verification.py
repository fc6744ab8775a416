"""Prove a backup: check its bytes, restore it into a scratch database, compare it with what was recorded.

The order matters: size and SHA-256 of the stored bytes are checked first, and a copy whose bytes differ from the
record is never restored. Then pg_restore reads the archive as a stream, one pass per section: the table of
contents, the definitions (pre-data), the rows (data, loaded by parallel_load with several COPY streams per table
into unlogged tables) and the indexes and constraints (post-data). The scratch database is dropped whatever happens.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import psycopg
import zstandard
from django.conf import settings
from django.utils import timezone
from psycopg import sql

from audit import trail
from backups import encryption
from backups.conninfo import ConnectionOptions, password_from_env
from backups.engine import pgtools
from backups.engine.archive_toc import read_toc
from backups.engine.snapshot import count_rows
from backups.errors import ConfigurationError, EncryptionError, LifeboatError, RestoreFailed, SourceUnreachable
from backups.models import Artifact, BackupRun, Database, Verification, refresh_verdicts
from backups.proof import objects, parallel_load
from backups.recovery import database_properties, restore_role
from backups.recovery.restore import drop_database
from backups.signals import verification_finished
from backups.storage import open_artifact
from backups.storage.interface import CHUNK, HashingReader
from core import heartbeat as jobs
from core.heartbeat import heartbeat

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "lifeboat_verify_"
# The scratch database is thrown away: its restore need not wait for WAL flushes, and index builds get more memory.
SCRATCH_OPTIONS = "-c synchronous_commit=off -c maintenance_work_mem=256MB"
SCRATCH_SESSION = ("SET synchronous_commit = off",)
# Before the rows arrive, the scratch tables become UNLOGGED: the load then writes no WAL, which is faster and,
# on a primary, keeps a throwaway restore out of the replicas and the WAL archive. Foreign keys come after the data,
# when every plain table is unlogged, so none of them is refused, except one held by a partitioned table (its
# parent stays logged, and a logged table may not reference an unlogged one); published tables must stay logged
# too. A backup with either is restored logged, as it is.
UNLOGGED_SQL = """
SELECT format('ALTER TABLE %s SET UNLOGGED', c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""
PARTITIONED_SQL = """
SELECT n.nspname || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'p'
"""
# What a database-wide ANALYZE analyzes (tables, materialized views, partitioned tables: system catalogs too),
# largest first, so that several sessions can share it: a partitioned table stands for its partitions (ANALYZE of
# one analyzes its whole tree), so partitions are not listed again.
ANALYZE_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p') AND NOT c.relispartition AND c.relpersistence <> 't'
ORDER BY pg_total_relation_size(c.oid) DESC, 1, 2
"""
PUBLICATION_ENTRY = re.compile(r"^\d+;\s+\d+\s+\d+\s+PUBLICATION ", re.MULTILINE)
TOC_LINE = re.compile(r"^\d+;\s+\d+\s+\d+\s+(?P<rest>.+)$")


def verification_server_for(database: Database) -> ConnectionOptions:
    """Where scratch databases go: LIFEBOAT_VERIFY_DSN when set, else the source server itself."""
    dsn = settings.LIFEBOAT_VERIFY_DSN
    if dsn:
        password = password_from_env(settings.LIFEBOAT_VERIFY_PASSWORD_ENV, "LIFEBOAT_VERIFY_DSN")
        return ConnectionOptions.parse(dsn, password=password).with_dbname("postgres")
    return database.connection_options("postgres")


def verification_server(artifact: Artifact) -> ConnectionOptions:
    return verification_server_for(artifact.run.database)


def newest_copies() -> list[Artifact]:
    """The newest live copy of each database in each tier (what the weekly re-verification proves again)."""
    newest: dict[tuple[int, int], Artifact] = {}
    copies = (Artifact.objects.live().filter(run__status=BackupRun.Status.SUCCEEDED)
              .select_related("run__database", "tier").order_by("run__started_at"))
    for artifact in copies.iterator():
        newest[(artifact.run.database_id, artifact.tier_id)] = artifact
    return list(newest.values())


def scratch_name(artifact: Artifact) -> str:
    """lifeboat_verify_<epoch>_<run>_<random>: the epoch lets a later sweep find leftovers of a crash."""
    return f"{SCRATCH_PREFIX}{int(time.time())}_{artifact.run_id}_{uuid.uuid4().hex[:6]}"


class _Checks:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, name: str, ok: bool | None, detail: str = "") -> bool | None:
        """ok None: the check could not be made (shown as "not verifiable"), which neither passes nor fails."""
        self.items.append({"name": name, "ok": ok, "detail": detail})
        return ok


def _scratch_dir() -> Path:
    """LIFEBOAT_VERIFY_TMP (default: the system temp dir): S3 downloads and the table-of-contents head."""
    path = Path(settings.LIFEBOAT_VERIFY_TMP or tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def temp_prefix(verification_id: int | None, what: str) -> str:
    """lifeboat-verify-<id>-<what>-: the sweep removes a killed verification's files by asking its row."""
    return f"lifeboat-verify-{verification_id}-{what}-" if verification_id else f"lifeboat-verify-{what}-"


@contextmanager
def checked_copy(artifact: Artifact, checks: _Checks, verification_id: int | None = None) -> Iterator[BinaryIO]:
    """The stored (compressed) bytes as a seekable file, yielded only if their size and SHA-256 match the record.

    A local copy is read in place; one in S3 is downloaded to LIFEBOAT_VERIFY_TMP first. The same open file serves
    every later pass, so the bytes that were checked are the bytes that get restored.
    """
    with ExitStack() as stack:
        src = stack.enter_context(open_artifact(artifact))
        in_place = getattr(src, "seekable", lambda: False)()
        if in_place:
            local = src
        else:
            local = stack.enter_context(tempfile.TemporaryFile(prefix=temp_prefix(verification_id, "copy"),
                                                               dir=_scratch_dir()))
        hashing = HashingReader(src)
        for chunk in hashing.chunks(CHUNK):
            if not in_place:
                local.write(chunk)
        size = hashing.size
        size_ok = checks.add("size", size == artifact.size_bytes,
                             f"{size} bytes stored, {artifact.size_bytes} recorded")
        digest = hashing.sha256
        sha_ok = checks.add("sha256", digest == artifact.sha256, f"{digest} stored, {artifact.sha256} recorded")
        if not (size_ok and sha_ok):
            mark_corrupt(artifact, f"corrupt: the stored copy differs from its record ({size} bytes, SHA-256 "
                                   f"{digest}; recorded {artifact.size_bytes} bytes, {artifact.sha256})")
            raise RestoreFailed("the stored copy differs from the recorded one (size or SHA-256); not restored")
        if not artifact.hash_checked:  # imported with --defer-hashing: its bytes are now known to be the manifest's
            artifact.hash_checked = True
            Artifact.objects.filter(pk=artifact.pk).update(hash_checked=True)
        yield local


def mark_corrupt(artifact: Artifact, error: str) -> None:
    """Bytes that are not the recorded ones are no copy: never offered for restore, not fresh; retention and the
    sweep, which work on live copies, leave the object in place for inspection."""
    artifact.status, artifact.error = Artifact.Status.FAILED, error
    Artifact.objects.filter(pk=artifact.pk).update(status=Artifact.Status.FAILED, error=error)
    trail.record("artifact.corrupt", target=artifact, summary=f"copy {artifact.location} failed as corrupt",
                 details={"location": artifact.location, "error": error})


class _Feeder(threading.Thread):
    """Decompress the archive into a program's stdin. A program that stops reading early (pg_restore --list needs
    only the head of the archive) is not an error. `keep`, when given, receives every chunk before it is offered,
    so it holds at least all that the program read."""

    def __init__(self, archive: BinaryIO, sink: BinaryIO, keep: BinaryIO | None = None) -> None:
        super().__init__(daemon=True, name="verify-feed")
        self.archive = archive
        self.sink = sink
        self.keep = keep
        self.error = ""

    def run(self) -> None:
        try:
            self.archive.seek(0)
            with zstandard.ZstdDecompressor().stream_reader(self.archive, read_size=CHUNK,
                                                             closefd=False) as data:
                while chunk := data.read(CHUNK):
                    if self.keep is not None:
                        self.keep.write(chunk)
                    self.sink.write(chunk)
        except BrokenPipeError:
            pass
        except EncryptionError as exc:
            self.error = str(exc)
        except (zstandard.ZstdError, OSError) as exc:
            self.error = f"cannot decompress the archive: {exc}"
        finally:
            try:
                self.sink.close()
            except BrokenPipeError:
                pass


@contextmanager
def pg_restore_streaming(archive: BinaryIO, args: list[str], env: dict[str, str],
                         keep: BinaryIO | None = None) -> Iterator[subprocess.Popen]:
    """pg_restore reading the decompressed archive on stdin; yields the process (its stdout is a pipe).

    `env` is its whole environment (ConnectionOptions.env()).
    """
    proc = subprocess.Popen([pgtools.pg_binary("pg_restore"), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stderr = pgtools.StderrDrain(proc.stderr)
    feeder = _Feeder(archive, proc.stdin, keep)
    feeder.start()
    try:
        yield proc
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.stdout.close()
        code = proc.wait()
        feeder.join()
        stderr.join()
    if feeder.error:
        raise RestoreFailed(feeder.error)
    _check_exit(code, stderr.data)


def can_load_unlogged(listing: str, partitioned: list[str]) -> bool:
    """False when the backup publishes tables or a partitioned table holds a foreign key (a TOC line
    'FK CONSTRAINT SCHEMA TABLE NAME OWNER'; names may hold spaces, so a doubtful match also says False)."""
    if PUBLICATION_ENTRY.search(listing):
        return False
    fk_lines = [m.group("rest") for m in map(TOC_LINE.match, listing.splitlines()) if m
                and m.group("rest").startswith("FK CONSTRAINT ")]
    return not any(line.startswith(f"FK CONSTRAINT {name} ") for line in fk_lines for name in partitioned)


@contextmanager
def table_of_contents(archive: BinaryIO, env: dict[str, str],
                      verification_id: int | None = None) -> Iterator[tuple[str, Path]]:
    """`pg_restore --list` of the archive, and the head of the archive it read, in a small file.

    The definitions (pre-data) and the indexes and constraints (post-data) live in the table of contents, so that
    head serves both passes without decompressing the whole archive again, and, being a seekable file, lets
    post-data run with `pg_restore --jobs` (index builds and foreign-key checks side by side).
    """
    with tempfile.NamedTemporaryFile(prefix=temp_prefix(verification_id, "toc"), suffix=".dump",
                                     dir=_scratch_dir()) as head:
        with pg_restore_streaming(archive, ["--list"], env, keep=head) as proc:
            listing = proc.stdout.read().decode(errors="replace")
        head.flush()
        yield listing, Path(head.name)


def _pg_restore_file(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run([pgtools.pg_binary("pg_restore"), *args], capture_output=True, env=env,
                          stdin=subprocess.DEVNULL)
    _check_exit(proc.returncode, proc.stderr)


def _check_exit(code: int, stderr: bytes | bytearray) -> None:
    if code != 0:
        message = " ".join(stderr.decode(errors="replace").split())
        raise RestoreFailed(f"pg_restore exited with status {code}: {message or 'no message'}")


def restore_scratch(archive: BinaryIO, head: Path, target: ConnectionOptions,
                    listing: str) -> tuple[parallel_load.LoadStats, bool]:
    """Definitions and indexes through pg_restore; the rows through parallel_load, several COPY streams a table."""
    jobs = settings.LIFEBOAT_VERIFY_JOBS
    env = target.env()
    loading = target.with_session_options(SCRATCH_OPTIONS)
    into = [*loading.cli_args(application_name="lifeboat-verify"), "--exit-on-error", "--no-owner", "--no-acl"]
    _pg_restore_file(["--section=pre-data", *into, str(head)], env)
    with target.connect(autocommit=False, application_name="lifeboat-verify") as conn:
        unlogged = can_load_unlogged(listing, [name for (name,) in conn.execute(PARTITIONED_SQL).fetchall()])
        if unlogged:
            for (statement,) in conn.execute(UNLOGGED_SQL).fetchall():
                conn.execute(statement)
    with pg_restore_streaming(archive, ["--section=data", "--file=-"], env) as proc:
        stats = parallel_load.load_data_section(proc.stdout, target, jobs, session=SCRATCH_SESSION)
    _pg_restore_file(["--section=post-data", f"--jobs={stats.streams}", *into, str(head)], env)
    return stats, unlogged


class _ScratchDatabase:
    """The scratch database, dropped whatever happens. DROP DATABASE makes the server checkpoint, so the drop
    runs beside recording and announcing the outcome (drop_later), which no longer needs the database; the
    verification returns only once it is gone (drop)."""

    def __init__(self, server: ConnectionOptions, name: str) -> None:
        self.server = server
        self.name = name
        self.created = False
        self._dropping: threading.Thread | None = None
        self._error: BaseException | None = None

    def drop_later(self) -> None:
        if self.created and self._dropping is None:
            self._dropping = threading.Thread(target=self._drop, name="verify-drop", daemon=True)
            self._dropping.start()

    def drop(self) -> None:
        if self._dropping is None:
            if self.created:
                self._drop()
        else:
            self._dropping.join()
        self.created = False
        error, self._error = self._error, None
        if isinstance(error, LifeboatError):  # recorded; the stale sweep retries later
            log.warning("could not drop scratch database %s: %s", self.name, error)
        elif error is not None:
            raise error

    def _drop(self) -> None:
        try:
            drop_database(self.server, self.name)
        except BaseException as exc:  # handed to drop(), in the verification's own thread
            self._error = exc


def verify_artifact(artifact: Artifact, *, user=None, verification: Verification | None = None) -> Verification:
    """Run every check on one artifact and record the outcome. Never raises for a failed verification."""
    server = verification_server(artifact)
    env = server.env()
    scratch = _ScratchDatabase(server, scratch_name(artifact))
    record = verification or Verification(artifact=artifact, requested_by=user)
    record.status = Verification.Status.RUNNING
    record.started_at = timezone.now()
    record.scratch_database = scratch.name
    record.server = server.server_label
    record.save()
    try:
        with heartbeat(record):
            _verify(record, artifact, server, env, scratch)
        scratch.drop_later()
        record.finished_at = timezone.now()
        if not jobs.finish(record, record.status, **{name: getattr(record, name) for name in OUTCOME_FIELDS}):
            record.refresh_from_db()  # the reaper abandoned it meanwhile: that stands
        announce(record, user)
    finally:
        scratch.drop()
    return record


OUTCOME_FIELDS = ("restore_seconds", "checks", "table_counts", "error", "finished_at", "restored_as",
                  "server_system_identifier")


def _verify(record: Verification, artifact: Artifact, server: ConnectionOptions, env: dict[str, str],
            scratch_db: _ScratchDatabase) -> None:
    """Fill in the record's outcome: passed, failed (the backup failed its test) or error (it could not run).
    The scratch database is left for the caller to drop."""
    checks = _Checks()
    scratch = scratch_db.name
    try:
        # Code in the backup runs during the restore: it runs as the restricted restore role, never as superuser
        # (unless the server is declared isolated). What that role cannot create is "not verifiable here".
        # Finding that role is the first thing that connects: a verification server that is down says nothing
        # about the backup (SourceUnreachable, below).
        try:
            loader = restore_role.verification_loader(server)
        except ConfigurationError as exc:
            raise restore_role.NotVerifiableHere(f"not verifiable here: {exc}") from None
        record.restored_as = loader.role
        record.server_system_identifier = loader.identity.system_identifier
        with (checked_copy(artifact, checks, record.pk) as stored,
              encryption.opened(stored, artifact.location) as archive,
              table_of_contents(archive, env, record.pk) as (listing, head)):
            archive_toc = _archive_toc(head)
            blocked = restore_role.not_restorable_by(loader, listing)
            if blocked:
                raise restore_role.NotVerifiableHere(
                    f"not verifiable here: {', '.join(blocked[:10])} (the restore role {loader.role} may not create "
                    "them; verify on an isolated server)")
            with open(head, "rb") as fh:
                properties = database_properties.from_toc(read_toc(fh))
            property_notes = database_properties.create_database_like(
                server, scratch, properties, owner=None if loader.superuser else loader.role)
            scratch_db.created = True
            target = loader.target.with_dbname(scratch)
            started = time.monotonic()
            try:
                loaded, unlogged = restore_scratch(archive, head, target, listing)
            except RestoreFailed as exc:
                raise restore_role.classify(exc, loader) from None
            record.restore_seconds = round(time.monotonic() - started, 3)
            checks.add("restore", True, f"restored in {record.restore_seconds} s as {loader.role}: rows of "
                                        f"{loaded.tables} tables ({loaded.bytes} bytes) over {loaded.streams} "
                                        f"connections{' into unlogged tables' if unlogged else ''}")
        actual, public_schema, restored, property_notes = _prove_restored(server, scratch, target, properties,
                                                                          property_notes)
        _compare_counts(record, checks, artifact.run.row_counts, actual)
        found = _compare_objects(archive_toc, restored, public_schema)
        if isinstance(found, str):  # a table of contents this check cannot read: reported, neither passed nor failed
            checks.add("objects", None, f"not verifiable: {found}")
        else:
            checks.add("objects", found.ok, found.detail())
            if found.not_compared:
                checks.add("objects_not_compared", None, found.not_compared_detail())
        check_database_properties(checks, properties, restored, property_notes)
        failed = [c["name"] for c in checks.items if c["ok"] is False]
        record.status = Verification.Status.FAILED if failed else Verification.Status.PASSED
        if failed:
            record.error = "; ".join(c["detail"] for c in checks.items if c["ok"] is False)
    except SourceUnreachable as exc:  # infrastructure: the verification server, not the backup
        record.status = Verification.Status.ERROR
        record.error = f"the verification could not run: {' '.join(str(exc).split())}"
    except restore_role.NotVerifiableHere as exc:
        record.status = Verification.Status.UNVERIFIABLE
        record.error = " ".join(str(exc).split())
        checks.add("restorable_here", False, record.error)
    except (LifeboatError, psycopg.Error, OSError, zstandard.ZstdError) as exc:
        record.status = Verification.Status.FAILED
        record.error = " ".join(str(exc).split())
        if not any(c["name"] == "restore" for c in checks.items) and all(c["ok"] for c in checks.items):
            checks.add("restore", False, record.error)
    except Exception as exc:  # unexpected (a fault of ours): the job ends with its text, never stays running
        log.exception("verification %s could not run", record.pk)
        record.status = Verification.Status.ERROR
        record.error = jobs.error_text(exc)
    finally:
        record.checks = checks.items


def _prove_restored(server: ConnectionOptions, scratch: str, target: ConnectionOptions,
                    properties: database_properties.DatabaseProperties | None,
                    notes: list[str]) -> tuple[dict[str, int | str], bool, bytes, list[str]]:
    """Everything the checks read from the restored database, side by side: the exact counts, ANALYZE, and one
    definitions-only pg_dump taken after the backup's database properties are applied, whose table of contents
    serves both the object check and the properties check.

    The counting and ANALYZE sessions connect as the restore role before those properties are applied (a
    statement_timeout or connection limit from the backup must not hinder them; settings apply to sessions that
    start later, and the ACL may shut the restore role out); pg_dump connects as Lifeboat's login, which
    applied them, and sets its own timeouts. ANALYZE (SHARE UPDATE EXCLUSIVE), the counts and pg_dump (ACCESS
    SHARE) block none of each other. ANALYZE covers what a database-wide ANALYZE does, table by table over
    LIFEBOAT_VERIFY_JOBS sessions, largest first. Returns the counts, whether the public schema exists, the dump,
    and the notes of what the server refused.
    """
    with ExitStack() as stack:
        analyzing = [stack.enter_context(target.connect(application_name="lifeboat-verify"))
                     for _ in range(max(1, settings.LIFEBOAT_VERIFY_JOBS))]
        # count_rows uses savepoints
        counting = stack.enter_context(target.connect(autocommit=False, application_name="lifeboat-verify"))
        public_schema = objects.has_public_schema(counting)
        relations = deque(sql.Identifier(*name) for name in analyzing[0].execute(ANALYZE_SQL).fetchall())
        with ThreadPoolExecutor(len(analyzing) + 1, thread_name_prefix="verify-proof") as pool:
            analyzed = [pool.submit(_analyze, session, relations) for session in analyzing]
            counted = pool.submit(count_rows, counting)
            try:
                notes = notes + database_properties.restore_onto(server, scratch, properties)
                restored = objects.definitions_archive(server.with_dbname(scratch))
            except BaseException:
                relations.clear()
                for session in (*analyzing, counting):  # do not wait for them: the verification has failed
                    session.cancel_safe()
                raise
            actual = counted.result()
            for done in analyzed:
                done.result()
    return actual, public_schema, restored, notes


def _analyze(session: psycopg.Connection, relations: deque[sql.Identifier]) -> None:
    """ANALYZE the relations this session takes from the shared queue until it is empty (emptied on an error:
    the verification has failed, the other sessions stop too)."""
    while True:
        try:
            name = relations.popleft()
        except IndexError:
            return
        try:
            session.execute(sql.SQL("ANALYZE {}").format(name))
        except BaseException:
            relations.clear()
            raise


def _archive_toc(head: Path) -> objects.Toc | str:
    try:
        with head.open("rb") as toc_file:
            return objects.read_toc(toc_file)
    except objects.TocUnreadable as exc:
        return str(exc)


def _compare_objects(archive_toc: objects.Toc | str, restored: bytes,
                     public_schema: bool) -> objects.ObjectReport | str:
    """The object check's report, or why it cannot be made (the reason, as text)."""
    if isinstance(archive_toc, str):
        return archive_toc
    try:
        return objects.compare_tocs(archive_toc, objects.read_toc(io.BytesIO(restored)), public_schema)
    except objects.TocUnreadable as exc:
        return f"the restored database's table of contents: {exc}"


def check_database_properties(checks: _Checks, properties: database_properties.DatabaseProperties | None,
                              restored: bytes, notes: list[str]) -> None:
    """The properties applied after the other checks' sessions started (see _prove_restored), read back from
    the pg_dump of the restored database taken after that, and compared with the archive's entries."""
    try:
        found = database_properties.from_toc(read_toc(io.BytesIO(restored)))
    except LifeboatError as exc:
        checks.add("database_properties", False, f"could not be read back from the restored database: {exc}")
        return
    result = database_properties.compare(properties, found, notes)
    if not result.ok:
        checks.add("database_properties", False, "differ from the backup: " + "; ".join(result.differences))
        return
    said = properties.summary() if properties else "none in the backup"
    checks.add("database_properties", True, f"{said}: as in the backup"
               + (f"; not restorable here: {'; '.join(result.not_restorable)}" if result.not_restorable else ""))


def _compare_counts(record: Verification, checks: _Checks, expected: dict[str, int], actual: dict[str, int]) -> None:
    tables = sorted(set(expected) | set(actual))
    record.table_counts = {t: {"expected": expected.get(t), "actual": actual.get(t)} for t in tables}
    wrong = [f"{t} (expected {expected.get(t)}, found {actual.get(t)})" for t in tables
             if expected.get(t) != actual.get(t)]
    checks.add("row_counts", not wrong,
               f"rows differ in {', '.join(wrong)}" if wrong else f"{len(tables)} tables, every count equal")


def announce(record: Verification, user) -> None:
    # The outcome was written by a conditional UPDATE (heartbeat.finish), which sends no post_save: bring the
    # copy's verdict column up to date before anyone who hears of it reads it.
    refresh_verdicts(Artifact.objects.filter(pk=record.artifact_id))
    run = record.artifact.run
    trail.record(f"verification.{record.status}", actor=user, target=record,
                 summary=f"verification of {run.database.name} run #{run.pk} in {record.artifact.tier.name} "
                         f"{record.status}",
                 details={"artifact": record.artifact_id, "location": record.artifact.location,
                          "restore_seconds": record.restore_seconds, "error": record.error,
                          "checks": [{"name": c["name"], "ok": c["ok"]} for c in record.checks]})
    verification_finished.send(sender=Verification, verification=record)


def cleanup_stale_scratch(server: ConnectionOptions, older_than: timedelta) -> list[str]:
    """Drop scratch databases a crashed verification left behind: those of verifications that are no longer
    running, and unrecorded ones older than `older_than` (their name carries their creation time). A running
    verification's database is never touched, however long it takes."""
    cutoff = time.time() - older_than.total_seconds()
    with server.connect(dbname="postgres") as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                            (SCRATCH_PREFIX.replace("_", r"\_") + "%",)).fetchall()]
    states = dict(Verification.objects.filter(scratch_database__in=names).values_list("scratch_database", "status"))
    dropped = []
    for name in names:
        stamp = name[len(SCRATCH_PREFIX):].split("_", 1)[0]
        state = states.get(name)
        if state == Verification.Status.RUNNING:
            continue
        if state is not None or (stamp.isdigit() and int(stamp) < cutoff):
            drop_database(server, name)
            dropped.append(name)
    return dropped
