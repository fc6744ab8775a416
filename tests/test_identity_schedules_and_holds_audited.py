"""Who may do what and what runs when are audited like any configuration: users, groups, memberships (from
either side), permissions, django-q schedules (real changes only, not the scheduler's next_run), a legal hold on
one copy, and a drill edited in the admin behind the drills page's back."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from audit import trail
from audit.models import AuditEvent
from backups.models import Artifact, BackupRun
from tests.drill_helpers import make_drill


def events(prefix: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__startswith=prefix).order_by("id"))


def test_a_new_user_and_a_password_change_are_recorded_without_the_hash(db, django_user_model):
    with trail.acting_as("ada-admin"):
        user = django_user_model.objects.create_user("newbie", password="a-long-passphrase-1")
        user.set_password("another-long-passphrase-2")
        user.save()
    created, changed = events("config.user.")
    assert created.action == "config.user.created" and created.actor == "ada-admin"
    assert changed.details["changed"]["password"]["note"] == "secret value changed"
    assert "pbkdf2" not in str(created.details) + str(changed.details)


def test_sign_in_time_is_not_a_configuration_change(client, dba):
    before = AuditEvent.objects.filter(action__startswith="config.user.").count()
    client.post(reverse("login"), {"username": "dana-dba", "password": "correct-horse-battery"})
    assert AuditEvent.objects.filter(action__startswith="config.user.").count() == before


def test_group_membership_is_recorded_from_either_side(db, make_user):
    user = make_user("mo")
    admins = Group.objects.get_or_create(name="Admin")[0]
    user.groups.add(admins)
    added = events("config.user.updated")[-1]
    assert added.details["changed"]["groups"]["after"] == ["Admin"] and added.target_id == str(user.pk)
    admins.user_set.remove(user)
    removed = events("config.group.updated")[-1]
    assert removed.details["changed"] == {"user.groups": {"removed": ["mo"]}}


def test_a_permission_granted_to_a_user_or_a_group_is_recorded(db, make_user):
    user = make_user("pat")
    perm = Permission.objects.get(codename="replace_database")
    user.user_permissions.add(perm)
    granted = events("config.user.updated")[-1].details["changed"]["user_permissions"]
    assert granted == {"before": [], "after": ["backups.replace_database"]}
    group = Group.objects.create(name="Night shift")
    group.permissions.add(perm)
    assert events("config.group.updated")[-1].details["changed"]["permissions"]["after"] == [
        "backups.replace_database"]


def test_schedules_record_real_changes_not_the_scheduler_s_bookkeeping(db):
    schedule = Schedule.objects.create(name="lifeboat:verify-audit-chain", func="audit.tasks.verify_audit_chain",
                                       schedule_type=Schedule.CRON, cron="17 * * * *")
    assert events("config.schedule.created")
    schedule.next_run = timezone.now() + timedelta(hours=1)
    schedule.save()
    assert not events("config.schedule.updated")
    schedule.cron = "17 3 1 1 *"  # someone makes the hourly audit check yearly
    schedule.save()
    (change,) = events("config.schedule.updated")
    assert change.details["changed"]["cron"] == {"before": "17 * * * *", "after": "17 3 1 1 *"}
    schedule.delete()
    assert events("config.schedule.deleted")


def test_a_legal_hold_on_one_copy_is_recorded_and_nothing_else_about_copies(learning_db, local_tier):
    run = BackupRun.objects.create(database=learning_db, status=BackupRun.Status.SUCCEEDED)
    artifact = Artifact.objects.create(run=run, tier=local_tier, location="/x", size_bytes=1, sha256="0" * 64)
    assert not events("config.artifact.")
    artifact.legal_hold = True
    artifact.save()
    (hold,) = events("config.artifact.updated")
    assert hold.details["changed"] == {"legal_hold": {"before": False, "after": True}}
    artifact.size_bytes = 2
    artifact.save()
    assert len(events("config.artifact.updated")) == 1


def test_a_drill_edited_in_the_admin_is_recorded(rf, admin_user, team_lead, dba):
    from django.contrib.admin.sites import site

    from drills.models import Drill

    drill = make_drill(team_lead, dba)
    request = rf.post("/admin/")
    request.user = admin_user
    drill.simulated = True  # a real drill quietly turned into one that does not count
    with trail.acting_as(admin_user):
        site._registry[Drill].save_model(request, drill, form=None, change=True)
    change = events("config.drill.updated")[-1]
    assert change.details["via"] == "admin" and change.details["changed"] == {
        "simulated": {"before": False, "after": True}}
    assert change.actor == admin_user.username
