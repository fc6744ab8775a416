"""What auditors took away: evidence packages and reproducible samples."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EvidenceExport(models.Model):
    """One evidence package asked for by an auditor: its period, filters, progress and the finished file."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_by_name = models.CharField(max_length=150, help_text="Kept even if the account is deleted.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Written by the worker while it runs.")
    since = models.DateField()
    until = models.DateField(help_text="Inclusive.")
    databases = models.JSONField(default=list, blank=True, help_text="Database names; empty means all.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    progress_note = models.CharField(max_length=200, blank=True)
    file_path = models.CharField(max_length=1000, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        db_table = "dashboard_evidenceexport"  # the table predates the evidence app (moved, never copied)
        permissions = [("export_evidence", "Can export the audit evidence package")]

    def __str__(self) -> str:
        return f"evidence export #{self.pk} {self.since}..{self.until} ({self.status})"

    @property
    def filename(self) -> str:
        return f"lifeboat-evidence_{self.since:%Y%m%d}-{self.until:%Y%m%d}_{self.pk}.zip"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    def claim(self) -> bool:
        """Atomically move queued -> running, so an export handed to two workers is built once."""
        claimed = EvidenceExport.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.RUNNING, started_at=timezone.now())
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def report_progress(self, percent: int, note: str) -> None:
        self.progress, self.progress_note = max(0, min(100, percent)), note[:200]
        self.save(update_fields=["progress", "progress_note"])

    def _end(self, status: str, **fields) -> bool:
        """running -> `status` only while still running: an export the reaper abandoned stays abandoned."""
        fields["finished_at"] = timezone.now()
        if EvidenceExport.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(status=status, **fields):
            self.status = status
            for name, value in fields.items():
                setattr(self, name, value)
            return True
        self.refresh_from_db()
        return False

    def mark_done(self, path: str, size: int, sha256: str) -> bool:
        return self._end(self.Status.DONE, progress=100, file_path=path, size_bytes=size, sha256=sha256,
                         progress_note="done")

    def mark_failed(self, error: str) -> bool:
        return self._end(self.Status.FAILED, error=error.strip())


class EvidenceSample(models.Model):
    """An auditor's random sample of a period's backups, drawn reproducibly from the recorded seed."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    since = models.DateField()
    until = models.DateField(help_text="Inclusive.")
    databases = models.JSONField(default=list, blank=True, help_text="Database names; empty means all.")
    size = models.PositiveIntegerField(help_text="How many samples the auditor asked for.")
    seed = models.CharField(max_length=64, help_text="Same seed, same population: same samples.")
    population_count = models.PositiveIntegerField()
    picked_run_ids = models.JSONField(default=list, help_text="BackupRun ids, in the order drawn.")

    class Meta:
        ordering = ["-created_at"]
        db_table = "dashboard_evidencesample"

    def __str__(self) -> str:
        return f"sample #{self.pk}: {len(self.picked_run_ids)} of {self.population_count} ({self.since}..{self.until})"
