from __future__ import annotations

from backups.engine import pgtools
from backups.management.commands._base import LifeboatCommand
from backups.models import Database


class Command(LifeboatCommand):
    help = "Create or update a protected database. Passwords never go in the DSN: use --password-env."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Lifeboat's name for it (letters, digits, _ . -)")
        parser.add_argument("--dsn", required=True, help="postgresql://USER@HOST:PORT/DBNAME (no password)")
        parser.add_argument("--password-env", default=None, help="environment variable holding the password")
        parser.add_argument("--passfile", default=None, help="pgpass file to use")
        parser.add_argument("--rpo-hours", type=int, default=None, help="recovery point objective (default 24)")
        parser.add_argument("--schedule", default=None, help="cron in UTC (default '0 2 * * *')")

    def handle(self, *args, name: str, dsn: str, password_env, passfile, rpo_hours, schedule, **options) -> None:
        target = pgtools.parse_dsn(dsn)
        database = Database.objects.filter(name=name).first() or Database(name=name)
        created = database.pk is None
        database.host, database.port, database.user, database.dbname = (
            target.host, target.port, target.user, target.dbname)
        for field, value in (("password_env", password_env), ("passfile", passfile),
                             ("rpo_hours", rpo_hours), ("schedule", schedule)):
            if value is not None:
                setattr(database, field, value)
        database.full_clean()
        from audit import trail

        # The configuration audit (audit.config_audit) records the change, before and after.
        with trail.acting_as("command line"):
            database.save()
        self.stdout.write(f"{'added' if created else 'updated'} {name}: {database.dsn} "
                          f"(RPO {database.rpo_hours} h, schedule '{database.schedule}' UTC)")
