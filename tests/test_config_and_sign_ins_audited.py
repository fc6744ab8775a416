"""Sign-ins (good and bad), sign-outs and every configuration change made in the admin are audit events; a
change says what changed, before and after, and who made it."""

from __future__ import annotations

import getpass

from django.urls import reverse

from audit.models import AuditEvent
from backups.models import Database, RetentionPolicy
from tests.helpers import run_command


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def test_sign_in_failed_sign_in_and_sign_out_are_recorded(client, dba):
    client.post(reverse("login"), {"username": "dana-dba", "password": "wrong"}, REMOTE_ADDR="10.0.0.7")
    failed = last("auth.sign_in_failed")
    assert failed.details["username"] == "dana-dba" and failed.details["ip"] == "10.0.0.7"
    assert "wrong" not in str(failed.details)

    client.post(reverse("login"), {"username": "dana-dba", "password": "correct-horse-battery"})
    assert last("auth.signed_in").actor == "dana-dba"

    client.post(reverse("logout"))
    assert last("auth.signed_out").actor == "dana-dba"


def database_form(db: Database, **changes) -> dict:
    data = {"name": db.name, "enabled": "on", "host": db.host, "port": db.port, "dbname": db.dbname,
            "user": db.user, "password_env": db.password_env, "passfile": db.passfile, "rpo_hours": db.rpo_hours,
            "schedule": db.schedule}
    data.update(changes)
    return data


def test_an_admin_change_records_before_and_after_and_who(client, admin_user, local_tier):
    database = Database.objects.create(name="orders", dbname="orders")
    client.force_login(admin_user)

    response = client.post(reverse("admin:backups_database_change", args=[database.pk]),
                           database_form(database, rpo_hours=6, schedule="0 */4 * * *", tiers=[local_tier.pk]))

    assert response.status_code == 302, response.content[:2000]
    events = list(AuditEvent.objects.filter(action="config.database.updated", target_id=str(database.pk)))
    assert len(events) == 2  # the fields, then the tiers (saved after the row, as many-to-many are)
    event, tiers = events
    assert event.actor == "ada-admin" and tiers.actor == "ada-admin"
    assert event.target_id == str(database.pk) and event.target_type == "backups.database"
    assert event.details["changed"]["rpo_hours"] == {"before": 24, "after": 6}
    assert event.details["changed"]["schedule"] == {"before": "0 2 * * *", "after": "0 */4 * * *"}
    assert "rpo_hours" in event.summary
    assert tiers.details["changed"]["tiers"] == {"before": [], "after": ["local"]}


def test_admin_creation_and_deletion_are_recorded(client, admin_user, local_tier):
    client.force_login(admin_user)
    RetentionPolicy.objects.filter(tier=local_tier).delete()
    client.post(reverse("admin:backups_retentionpolicy_add"),
                {"tier": local_tier.pk, "keep_days": 14, "keep_last": 5, "monthly_months": 12})
    created = last("config.retentionpolicy.created")
    assert created.actor == "ada-admin" and created.details["after"]["keep_days"] == 14

    policy = RetentionPolicy.objects.get(tier=local_tier)
    client.post(reverse("admin:backups_retentionpolicy_delete", args=[policy.pk]), {"post": "yes"})
    deleted = last("config.retentionpolicy.deleted")
    assert deleted.actor == "ada-admin" and deleted.details["before"]["keep_last"] == 5


def test_saving_without_a_change_records_nothing(local_tier):
    before = AuditEvent.objects.count()
    local_tier.save()
    assert AuditEvent.objects.count() == before


def test_command_line_changes_are_recorded_too(db):
    code, _, err = run_command("add_database", "billing", "--dsn", "postgresql://postgres@127.0.0.1:5432/billing",
                               "--no-check")
    assert code == 0, err
    assert last("config.database.created").actor == f"os:{getpass.getuser()}"
    run_command("add_database", "billing", "--dsn", "postgresql://postgres@127.0.0.1:5432/billing",
                "--rpo-hours", "2", "--no-check")
    assert last("config.database.updated").details["changed"] == {"rpo_hours": {"before": 24, "after": 2}}


def test_the_config_models_of_every_app_are_audited(db):
    from audit.config_audit import REGISTRY
    from core.roles import CONFIG_MODELS

    audited = {(m._meta.app_label, m._meta.model_name) for m in REGISTRY}
    assert {("backups", name) for name in CONFIG_MODELS["backups"]} <= audited


def test_a_channel_secret_is_never_written_but_its_change_is(db):
    from alerts.models import Channel

    channel = Channel.objects.create(name="ops", url="slack://T000/B000/SECRETTOKEN1")
    created = last("config.channel.created")
    assert created.details["after"]["url"] == "(redacted)" and "SECRETTOKEN1" not in str(created.details)

    channel.url = "slack://T000/B000/SECRETTOKEN2"
    channel.save()
    updated = last("config.channel.updated")
    assert updated.details["changed"]["url"]["note"] == "secret value changed"
    assert "SECRETTOKEN" not in str(updated.details)
