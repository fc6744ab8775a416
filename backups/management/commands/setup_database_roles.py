from __future__ import annotations

import os

from django.core.management.base import CommandError

from backups.conninfo import ConnectionOptions
from backups.management.commands._base import LifeboatCommand
from backups.recovery import database_roles


class Command(LifeboatCommand):
    help = ("Create (or correct) the PostgreSQL roles Lifeboat uses; idempotent, prints what it did. The restore "
            "role goes to the verification server, or to each protected database's server.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dsn", help="only this server: postgresql://USER@HOST:PORT/postgres (no password)")
        parser.add_argument("--password-env", help="environment variable with the password for --dsn")
        parser.add_argument("--grant-to", action="append", default=[], metavar="LOGIN",
                            help="with --dsn: Lifeboat's login on that server, made a member of the restore role "
                                 "(repeatable; default: the --dsn user)")
        parser.add_argument("--role", action="append", choices=[spec.key for spec in database_roles.ROLES],
                            help="only this role (repeatable; default: all)")

    def handle(self, *args, dsn, password_env, grant_to, role, **options) -> None:
        # --dsn names a server Lifeboat restores to: the restore role, unless --role asks for another.
        default = {"restore"} if dsn else {spec.key for spec in database_roles.ROLES}
        specs = [spec for spec in database_roles.ROLES if spec.key in (role or default)]
        servers = None
        if dsn:
            password = ""
            if password_env:
                from core.env import secret_env_refusal

                if secret_env_refusal(password_env):
                    raise CommandError(secret_env_refusal(password_env))
                if password_env not in os.environ:
                    raise CommandError(f"environment variable {password_env} is not set")
                password = os.environ[password_env]
            servers = [ConnectionOptions.parse(dsn, password=password)]
        report = database_roles.setup(specs, servers, grant_to or None)
        for line in report:
            self.stdout.write(line)
        if not report:
            self.stdout.write("no server to set up (add a database, or set LIFEBOAT_VERIFY_DSN, or pass --dsn)")
