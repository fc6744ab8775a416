"""The base of every Lifeboat management command: it says who acts (the OS user, and `--actor USER`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit import trail


class AuditedCommand(BaseCommand):
    """Runs the command under `trail.acting_as(...)`, so its audit events name the OS user (and `--actor`).

    A destructive command calls `require_actor(permission)`: it then needs `--actor USER` naming an active user
    who holds the permission, exactly as the dashboard would ask of them.
    """

    # Lifeboat's own checks (secrets, private backup directory, single point of failure) still warn on every job;
    # the full set (URL conf, admin, templates) would import the whole web layer first. `manage.py check` runs all.
    requires_system_checks = ["lifeboat"]

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--actor", metavar="USER",
                            help="the Lifeboat user on whose behalf this runs (recorded beside the OS user)")
        return parser

    def execute(self, *args, **options):
        self.actor_user = self._actor_user(options.get("actor"))
        with trail.acting_as(trail.command_line_actor(self.actor_user)):
            return super().execute(*args, **options)

    @staticmethod
    def _actor_user(username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--actor {username}: no active Lifeboat user of that name")
        return user

    def require_actor(self, permission: str, what: str) -> None:
        if self.actor_user is None:
            raise CommandError(f"{what} needs --actor USER: a Lifeboat user who may do it (permission {permission})")
        if not self.actor_user.has_perm(permission):
            raise CommandError(f"--actor {self.actor_user.get_username()} may not {what} "
                               f"(needs permission {permission})")
