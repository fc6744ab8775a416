
from audit.commands import AuditedCommand
from backups.schedules import sync_all


class Command(AuditedCommand):
    help = "Register every database's backup schedule and the housekeeping schedules with django-q2."

    def handle(self, *args, **options) -> None:
        sync_all()
        self.stdout.write("schedules in sync")
