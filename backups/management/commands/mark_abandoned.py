from django.core.management.base import BaseCommand

from backups.engine import pipeline


class Command(BaseCommand):
    help = "Mark running backups whose worker stopped reporting as abandoned."

    def handle(self, *args, **options) -> None:
        for run in pipeline.mark_abandoned():
            self.stdout.write(f"run #{run.pk} ({run.database}) abandoned: {run.error}")
