"""`manage.py check` lists configuration that still works but would be refused today (tag: lifeboat)."""

from __future__ import annotations

import stat

from django.conf import settings
from django.core.checks import Warning, register
from django.db import DatabaseError

from core.env import secret_env_refusal


@register("lifeboat")
def secret_references_outside_the_allowed_set(app_configs=None, **kwargs) -> list[Warning]:
    """Rows saved before LIFEBOAT_SECRET_ENV_ALLOW existed keep working; each one is named here to be fixed."""
    from alerts.models import Channel
    from backups.models import Database, Server

    found = []
    try:
        for model, field in ((Database, "password_env"), (Server, "password_env"), (Channel, "url_env")):
            for pk, name, value in model.objects.exclude(**{field: ""}).values_list("pk", "name", field):
                if secret_env_refusal(value):
                    found.append(Warning(
                        f"{model._meta.verbose_name} {name!r}: {field}={value} is outside the allowed set",
                        hint=f"rename the variable to LIFEBOAT_..., or add {value} to LIFEBOAT_SECRET_ENV_ALLOW",
                        obj=f"{model._meta.label}#{pk}", id="lifeboat.W001"))
    except DatabaseError:  # not migrated yet: nothing to list
        return []
    return found


@register("lifeboat")
def backup_directory_is_private(app_configs=None, **kwargs) -> list[Warning]:
    """Files written from now on are private (umask 077); a directory made before that may still be readable."""
    root = settings.LIFEBOAT_BACKUP_ROOT
    if not root.is_dir():
        return []
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode & 0o077:
        return [Warning(f"backup directory {root} is readable by other users (mode {mode:o})",
                        hint=f"chmod -R go-rwx {root}", id="lifeboat.W002")]
    return []


@register("lifeboat")
def single_point_of_failure(app_configs=None, **kwargs) -> list[Warning]:
    """Every enabled tier on the filesystem (or machine) of Lifeboat's own database: one loss loses everything."""
    from backups.catalog.single_point import single_point_of_failure as check

    try:
        warning = check()
    except DatabaseError:  # not migrated yet: no tier to judge
        return []
    if not warning:
        return []
    return [Warning(warning, hint="add an S3 tier (README: quick start, 'An off-host tier'), or keep the backup "
                    "directory on another machine's filesystem", id="lifeboat.W003")]
