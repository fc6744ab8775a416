"""The four roles as Django groups, and what each may do.

Groups are created by a data migration (dashboard 0002) and their permissions are (re)assigned after every
`migrate` by `sync_roles`, because apps added later bring permissions that did not exist when the groups were
made. Views check permissions (`@permission_required(..., raise_exception=True)`), never group names.
"""

from __future__ import annotations

from django.apps import apps as global_apps

DBA, TEAM_LEAD, ADMIN, AUDITOR = "DBA", "Team lead", "Admin", "Auditor"
ROLES = (DBA, TEAM_LEAD, ADMIN, AUDITOR)

# Custom permissions that views check. They are declared in each model's Meta.permissions.
RUN_OPERATIONS = "backups.run_operations"        # back up now, verify, restore into a new database
REPLACE_DATABASE = "backups.replace_database"    # restore over a production database (forensic copy first)
MANAGE_STORAGE = "backups.manage_storage"        # apply bucket policy, apply retention, take an RDS snapshot
CONDUCT_DRILL = "drills.conduct_drill"           # schedule a drill, tick items, run its restore
SIGN_OFF_DRILL = "drills.sign_off_drill"         # sign a drill off (and not as its only participant)
EXPORT_EVIDENCE = "evidence.export_evidence"     # export the SOC 2 evidence package
SEND_TEST_ALERT = "alerts.send_test_notification"

# The apps whose models every role may read (view_* permissions).
READABLE_APPS = ("backups", "drills", "audit", "evidence", "alerts")
# Models an Admin edits in the Django admin (add/change/delete). AuditEvent is deliberately absent.
CONFIG_MODELS = {
    "backups": ("database", "tier", "retentionpolicy", "server", "serverlimit"),
    "drills": ("scenario", "contact", "checklisttemplate", "checklistitem"),
    "alerts": ("channel",),
}
# Admins manage people: create users and give them roles (group membership). Never superuser rights: the
# user admin (core/admin.py) keeps is_superuser and per-user permissions out of their reach.
MANAGE_USERS = ("auth.add_user", "auth.change_user", "auth.view_user", "auth.view_group")
EXTRA = {
    DBA: (RUN_OPERATIONS, MANAGE_STORAGE, CONDUCT_DRILL),
    TEAM_LEAD: (CONDUCT_DRILL, SIGN_OFF_DRILL),
    ADMIN: (RUN_OPERATIONS, REPLACE_DATABASE, MANAGE_STORAGE, SEND_TEST_ALERT, *MANAGE_USERS),
    AUDITOR: (EXPORT_EVIDENCE,),
}


def wanted_permissions(role: str) -> set[str]:
    """'app_label.codename' strings for one role."""
    wanted = set(EXTRA[role])
    installed = {c.label for c in global_apps.get_app_configs()}
    for app in READABLE_APPS:
        if app in installed:
            for model in global_apps.get_app_config(app).get_models():
                wanted.add(f"{app}.view_{model._meta.model_name}")
    if role == ADMIN:
        wanted |= {f"{app}.{verb}_{model}" for app, models in CONFIG_MODELS.items()
                   for model in models for verb in ("add", "change", "delete")}
    return wanted


def sync_roles(apps=global_apps, **kwargs) -> None:
    """Create the four groups if missing and give each exactly the permissions that exist for it."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for dotted in sorted(wanted_permissions(role)):
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm:
                perms.append(perm)
        group.permissions.set(perms)


def staff_follows_admin_role(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """Members of the Admin group may open the Django admin (is_staff), others lose it unless superuser.

    Connected to User.groups' m2m_changed (CoreConfig.ready), whichever side the membership is changed from."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    from django.contrib.auth import get_user_model

    User = get_user_model()
    users = [instance] if not reverse else list(User.objects.filter(pk__in=pk_set or ()))
    if reverse and action == "post_clear":
        return
    for user in users:
        wanted = user.is_superuser or user.groups.filter(name=ADMIN).exists()
        if user.is_staff != wanted:
            user.is_staff = wanted
            user.save(update_fields=["is_staff"])


def signs_in_through_provider(user) -> bool:
    """A user linked to an identity provider, whose roles the provider decides (sso.ExternalIdentity, read
    through its reverse accessor so this bottom layer imports nothing above it)."""
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return user.external_identity is not None
    except (ObjectDoesNotExist, AttributeError):
        return False
