"""An Admin opens the Django admin by role (no "staff" box to tick by hand), creates users and gives them roles,
audited; never superuser rights, for others or for themself."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import AuditEvent


def test_joining_the_admin_group_grants_staff_access_and_leaving_removes_it(make_user):
    user = make_user("ali")
    assert not user.is_staff
    admins = Group.objects.get(name="Admin")
    user.groups.add(admins)
    user.refresh_from_db()
    assert user.is_staff
    admins.user_set.remove(user)
    user.refresh_from_db()
    assert not user.is_staff


def test_an_admin_creates_a_user_and_gives_them_a_role(client, admin_user):
    admin_user.refresh_from_db()
    client.force_login(admin_user)
    assert client.get(reverse("admin:index")).status_code == 200
    added = client.post(reverse("admin:auth_user_add"), {
        "username": "newdba", "password1": "lantern-quay-7781", "password2": "lantern-quay-7781",
        "usable_password": "true"})
    assert added.status_code == 302, added.context and added.context["adminform"].form.errors
    from django.contrib.auth import get_user_model

    newdba = get_user_model().objects.get(username="newdba")
    dba_group = Group.objects.get(name="DBA")
    page = client.get(reverse("admin:auth_user_change", args=[newdba.pk]))
    assert 'name="is_superuser"' not in page.text  # shown read-only to a non-superuser
    newdba.groups.add(dba_group)  # what the change form's groups field does
    assert AuditEvent.objects.filter(action="config.user.created", target_id=str(newdba.pk)).exists()
    assert AuditEvent.objects.filter(action="config.user.updated", target_id=str(newdba.pk)).exists()


def test_an_admin_cannot_make_anyone_superuser(client, admin_user, make_user):
    admin_user.refresh_from_db()
    target = make_user("tess")
    client.force_login(admin_user)
    page = client.get(reverse("admin:auth_user_change", args=[target.pk]))
    form = page.context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields
    data = {name: form[name].value() or "" for name in form.fields if name not in ("groups",)}
    data.update({"is_superuser": "on", "groups": [str(g.pk) for g in Group.objects.filter(name="DBA")]})
    client.post(reverse("admin:auth_user_change", args=[target.pk]), data)
    target.refresh_from_db()
    assert not target.is_superuser
