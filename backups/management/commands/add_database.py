from __future__ import annotations

from backups.conninfo import probe, split_dsn
from backups.management.commands._base import LifeboatCommand
from backups.models import Database
from core.units import human_bytes


class Command(LifeboatCommand):
    help = ("Create or update a protected database. It is connected to first (server version, size, tables) unless "
            "--no-check. Passwords never go in the DSN: use --password-env.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Lifeboat's name for it (letters, digits, _ . -)")
        parser.add_argument("--dsn", required=True,
                            help="postgresql://USER@HOST:PORT/DBNAME?sslmode=verify-full&... (libpq options kept; "
                                 "no password)")
        parser.add_argument("--password-env", default=None, help="environment variable holding the password")
        parser.add_argument("--passfile", default=None, help="pgpass file to use")
        parser.add_argument("--rpo-hours", type=int, default=None, help="recovery point objective, 1 to 8760 "
                                                                        "(default 24)")
        parser.add_argument("--schedule", default=None, help="cron in UTC, five fields (default '0 2 * * *')")
        parser.add_argument("--no-check", action="store_true",
                            help="save without connecting (a server that is down now)")

    def handle(self, *args, name: str, dsn: str, password_env, passfile, rpo_hours, schedule, no_check: bool,
               **options) -> None:
        database = Database.objects.filter(name=name).first() or Database(name=name)
        created = database.pk is None
        database.host, database.port, database.user, database.dbname, database.libpq_options = split_dsn(dsn)
        for field, value in (("password_env", password_env), ("passfile", passfile),
                             ("rpo_hours", rpo_hours), ("schedule", schedule)):
            if value is not None:
                setattr(database, field, value)
        database.full_clean()
        facts = None if no_check else probe(database.connection_options())
        # The configuration audit (audit.config_audit) records the change, before and after, and who (the OS user
        # and --actor, from AuditedCommand).
        database.save()
        self.stdout.write(f"{'added' if created else 'updated'} {name}: {database.dsn} "
                          f"(RPO {database.rpo_hours} h, schedule '{database.schedule}' UTC)")
        if facts:
            self.stdout.write(f"checked: PostgreSQL {facts.server_version}, {human_bytes(facts.size_bytes)}, "
                              f"{facts.tables} table{'s' if facts.tables != 1 else ''}")
        else:
            self.stdout.write("not checked (--no-check): the first backup will show whether it answers")
