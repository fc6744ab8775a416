"""The reaper terminates the abandoned run's pg_dump and nothing else: not another Lifeboat's run that carries the
same id (another installation backing up the same server, or a parallel test whose catalog numbers its runs from 1
too), and not a session of that name on another database."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.utils import timezone

from backups.engine.pipeline import backend_name
from backups.models import BackupRun
from backups.reaper import terminate_pg_dump


def _alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def running(learning_db):
    return BackupRun.objects.create(database=learning_db, status=BackupRun.Status.RUNNING,
                                    started_at=timezone.now(), heartbeat_at=timezone.now())


def test_only_the_runs_own_backend_is_terminated(running, pg_server, make_source_db):
    # Another catalog's run with the same id, on the same database, and this run's name on another database.
    other_run = BackupRun(pk=running.pk, database=running.database, backup_uuid=uuid.uuid4())
    elsewhere = make_source_db(prefix="lbt_elsewhere")
    other = pg_server.target.connect(dbname=running.database.dbname, application_name=backend_name(other_run))
    same_name_elsewhere = pg_server.target.connect(dbname=elsewhere, application_name=backend_name(running))
    own = pg_server.target.connect(dbname=running.database.dbname, application_name=backend_name(running))
    try:
        assert backend_name(other_run) != backend_name(running)
        assert terminate_pg_dump(running) == 1
        assert not _alive(own)
        assert _alive(other) and _alive(same_name_elsewhere)
    finally:
        for conn in (other, same_name_elsewhere, own):
            conn.close()


def test_the_backend_name_says_which_run_and_fits_application_name(running):
    name = backend_name(running)
    assert name.startswith(f"lifeboat-run-{running.pk}-") and len(name) <= 63
