
from audit.commands import AuditedCommand
from backups.reaper import reap


class Command(AuditedCommand):
    help = ("Abandon every job whose heartbeat stopped (backups, verifications, restores, evidence exports) and "
            "clean what it left: the general reaper, also run by the lifeboat:mark-abandoned schedule.")

    def handle(self, *args, **options) -> None:
        reaped = reap()
        for run in reaped.runs:
            self.stdout.write(f"run #{run.pk} ({run.database}) abandoned: {run.error}")
        for job in [*reaped.verifications, *reaped.restores, *reaped.others]:
            self.stdout.write(f"{job._meta.verbose_name} #{job.pk} abandoned: {job.error}")
