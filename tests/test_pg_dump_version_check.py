"""A pg_dump older than the server is refused with a clear error (GitLab 2017: 9.2 against 9.6)."""

from __future__ import annotations

import pytest

from backups.engine import pgtools
from backups.errors import ConfigurationError
from tests.helpers import run_json


@pytest.fixture
def old_pg_dump(tmp_path, settings):
    """A pg_dump that reports 9.2 and, if ever run for real, writes a few bytes and 'succeeds' like the old one."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "pg_dump"
    script.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 9.2.24"; exit 0; fi\n'
                      'printf "PGDMP"; exit 0\n')
    script.chmod(0o755)
    settings.LIFEBOAT_PG_BIN = str(bindir)
    pgtools.pg_binary.cache_clear()
    pgtools.client_version.cache_clear()
    yield
    pgtools.pg_binary.cache_clear()
    pgtools.client_version.cache_clear()


def test_old_pg_dump_is_refused_and_nothing_is_kept(learning_db, old_pg_dump, backup_root):
    code, result = run_json("backup", learning_db.name)
    assert code == 1
    assert "pg_dump 9.2.24 is older than the server (15." in result["error"]
    assert result["artifacts"] == []
    assert not [p for p in backup_root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("server", "client", "ok"), [("15.4", "15.2", True), ("15.4", "16.1", True),
                                                      ("16.0", "15.9", False), ("9.6.24", "9.2.24", False),
                                                      ("9.6.24", "10.1", True)])
def test_major_versions_are_compared(server, client, ok):
    # Before PostgreSQL 10 the major version had two parts: 9.2 against 9.6 is exactly GitLab's 2017 failure.
    if ok:
        pgtools.check_client_not_older(server, client)
    else:
        with pytest.raises(ConfigurationError, match="older than the server"):
            pgtools.check_client_not_older(server, client)
