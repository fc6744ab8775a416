from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from backups.errors import LifeboatError
from backups.models import Database
from dashboard import demo


class Command(AuditedCommand):
    help = "Seed the demo: a dsa_learning database (users, lessons, problems) to protect and a demo login."

    def handle(self, *args, **options) -> None:
        try:
            server = demo.demo_server()
            target = demo.create_demo_database(server)
        except LifeboatError as exc:
            raise CommandError(str(exc)) from None
        database, created = Database.objects.update_or_create(
            name=demo.DEMO_DB,
            defaults={"host": target.host, "port": target.port, "user": target.user, "dbname": target.dbname,
                      "libpq_options": target.query},
        )
        self.stdout.write(f"demo database: {database.dsn} ({'added' if created else 'already protected'})")

        password = demo.demo_password()
        user, _ = get_user_model().objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        for group in Group.objects.all():
            user.groups.add(group)
        line = f"demo login: user 'demo', password '{password}'"
        self.stdout.write(self.style.SUCCESS(line))
        # bin/serve prints it again once the server answers, below the start-up logs (readable by this user only).
        login_file = settings.VAR_DIR / "demo-login.txt"
        login_file.parent.mkdir(parents=True, exist_ok=True)
        login_file.write_text(line + "\n")
