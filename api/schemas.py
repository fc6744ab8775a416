"""What the API reads and writes: typed schemas, from which django-ninja writes the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import Field


class Accepted(Schema):
    """A job was queued: poll `url` until `status` is no longer queued or running."""
    id: int
    status: str
    url: str = Field(description="The job's API URL (also in the Location header)")
    web_url: str | None = Field(None, description="The same job's page in the dashboard")


class ProblemOut(Schema):
    """RFC 9457 problem details (content type application/problem+json)."""
    type: str
    title: str
    status: int
    detail: str
    run_url: str | None = Field(None, description="409 on a backup: the run already queued or running")


# --- databases -----------------------------------------------------------------------------------------------


class DatabaseIn(Schema):
    name: str = Field(max_length=63)
    host: str = "127.0.0.1"
    port: int = Field(5432, ge=1, le=65535)
    dbname: str = Field(max_length=63)
    user: str = "postgres"
    password_env: str = Field("", description="Name of the environment variable holding the password; never "
                                              "the password itself")
    passfile: str = ""
    libpq_options: str = ""
    rpo_hours: int = 24
    schedule: str = Field("0 2 * * *", description="Cron, in UTC")
    enabled: bool = True
    tiers: list[str] = Field(default_factory=list, description="Tier names; empty means every enabled tier")


class DatabasePatch(Schema):
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    dbname: str | None = Field(None, max_length=63)
    user: str | None = None
    password_env: str | None = None
    passfile: str | None = None
    libpq_options: str | None = None
    rpo_hours: int | None = None
    schedule: str | None = None
    enabled: bool | None = None
    tiers: list[str] | None = None


class DatabaseOut(Schema):
    name: str
    host: str
    port: int
    dbname: str
    user: str
    password_env: str
    libpq_options: str
    dsn: str
    rpo_hours: int
    schedule: str
    enabled: bool
    tiers: list[str]
    created_at: datetime
    updated_at: datetime
    url: str
    web_url: str


class DatabaseList(Schema):
    count: int
    items: list[DatabaseOut]


class Cell(Schema):
    """One database in one tier, as the overview shows it."""
    tier: str
    state: str = Field(description="ok, due, late, never, failing, verification-failed or archived")
    freshness: str = Field(description="ok, due, late or never")
    age_seconds: float | None
    newest_run: int | None
    verified: bool


class RunOut(Schema):
    id: int
    database: str
    status: str
    trigger: str
    requested_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    size_bytes: int | None
    sha256: str
    warnings: list[str]
    error: str
    verified: bool = Field(description="A copy of the run is verified (its newest decided verification passed)")
    url: str
    web_url: str


class DatabaseDetail(DatabaseOut):
    cells: list[Cell]
    next_run: datetime | None
    recent_runs: list[RunOut]


# --- runs, copies and their proofs ---------------------------------------------------------------------------


class VerificationOut(Schema):
    id: int
    copy_id: int
    run: int
    tier: str
    status: str
    requested_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    restore_seconds: float | None
    checks: list[dict]
    error: str
    url: str


class RestoreOut(Schema):
    id: int
    copy_id: int
    run: int
    tier: str
    mode: str
    status: str
    target_database: str
    tables: list[str]
    requested_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str
    url: str


class CopyOut(Schema):
    id: int
    tier: str
    status: str
    location: str
    size_bytes: int | None
    sha256: str
    encrypted: bool
    verdict: str | None = Field(description="passed / failed: the newest decided verification; null if none")
    verifications: list[VerificationOut]
    restores: list[RestoreOut]
    verify_url: str
    restore_url: str


class RunDetail(RunOut):
    pg_dump_version: str
    server_version: str
    raw_size_bytes: int | None
    row_counts: dict[str, int]
    copies: list[CopyOut]


class RunPage(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    items: list[RunOut]


RunStatus = Literal["queued", "running", "succeeded", "failed", "abandoned"]
RunSort = Literal["started", "-started", "database", "-database", "size", "-size", "duration", "-duration",
                  "status", "-status"]


class RestoreIn(Schema):
    target_database: str = Field(max_length=63, description="A new database on the source's server")
    tables: list[str] = Field(default_factory=list, description="schema.table names; empty restores everything")


# --- alerts, drills, evidence, overview ----------------------------------------------------------------------


class AlertOut(Schema):
    id: int
    kind: str
    severity: str
    status: str
    title: str
    message: str
    database: str | None
    tier: str | None
    opened_at: datetime
    resolved_at: datetime | None
    url: str


class AlertPage(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    items: list[AlertOut]


class CriterionOut(Schema):
    name: str
    target: str
    measured: str
    outcome: str


class DrillOut(Schema):
    id: int
    title: str
    scenario: str
    database: str
    planned_at: datetime
    simulated: bool
    status: str
    result: str
    rto_target_minutes: int
    rpo_target_minutes: int
    recovery_seconds: float | None
    backup_age_seconds: float | None
    completed_at: datetime | None
    signed_off: bool
    url: str


class DrillDetail(DrillOut):
    criteria: list[CriterionOut]
    timeline: list[dict]


class DrillPage(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    items: list[DrillOut]


class EvidenceExportIn(Schema):
    since: date
    until: date = Field(description="Inclusive")
    databases: list[str] = Field(default_factory=list, description="Empty: all databases")


class EvidenceExportOut(Schema):
    id: int
    status: str
    since: date
    until: date
    databases: list[str]
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    progress: int
    progress_note: str
    size_bytes: int | None
    sha256: str
    error: str
    url: str
    download_url: str | None


class FreshnessRow(Schema):
    database: str
    enabled: bool
    failing_since: datetime | None
    cells: list[Cell]


class FreshnessMatrix(Schema):
    generated_at: datetime
    tiers: list[str]
    databases: list[FreshnessRow]
