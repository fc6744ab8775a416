"""The command line is never "system": its audit events name the OS user, and the Lifeboat user given with
--actor beside it; destructive commands (retention) need an --actor who holds the permission."""

from __future__ import annotations

import getpass

from audit import trail
from audit.models import AuditEvent
from backups.models import Database
from tests.helpers import run_command


def test_a_configuration_change_from_the_command_line_names_the_os_user(db):
    code, _, err = run_command("add_database", "orders", "--dsn", "postgresql://app@127.0.0.1:5432/orders",
                               "--no-check")
    assert code == 0, err
    event = AuditEvent.objects.filter(action__startswith="config.").latest("id")
    assert event.actor == f"os:{getpass.getuser()}"


def test_actor_names_the_lifeboat_user_beside_the_os_user(db, admin_user):
    code, _, err = run_command("add_database", "orders", "--dsn", "postgresql://app@127.0.0.1:5432/orders",
                               "--actor", admin_user.username, "--no-check")
    assert code == 0, err
    event = AuditEvent.objects.filter(action__startswith="config.").latest("id")
    assert event.actor == f"{admin_user.username} (os:{getpass.getuser()})"
    assert Database.objects.filter(name="orders").exists()


def test_retention_from_the_command_line_needs_an_actor_with_the_storage_permission(local_tier, dba, auditor):
    code, _, err = run_command("apply_retention", "--tier", "local")
    assert code == 1 and "needs --actor USER" in err
    code, _, err = run_command("apply_retention", "--tier", "local", "--actor", auditor.username)
    assert code == 1 and "may not delete backups by retention" in err
    assert run_command("apply_retention", "--tier", "local", "--actor", dba.username)[0] == 0
    assert run_command("apply_retention", "--tier", "local", "--dry-run")[0] == 0  # looking needs nobody


def test_an_event_recorded_without_an_actor_takes_the_context_s_actor(db):
    with trail.acting_as("os:backup-operator"):
        event = trail.record("test.context", summary="inside a command")
    assert event.actor == "os:backup-operator"
    assert trail.record("test.context", summary="nobody behind it").actor == "system"
