"""Models as the API's schemas show them: plain dicts, URLs to the API and to the same object's dashboard page."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, QueryDict
from django.urls import reverse

from alerts.models import Alert
from backups.models import Artifact, BackupRun, Database, FreshnessReport, Restore, Verification
from backups.web.overview import CellState
from drills.models import Drill
from evidence.models import EvidenceExport

NS = "api-v1"
PAGE_SIZE = 50


def url(route: str, /, **kwargs) -> str:
    return reverse(f"{NS}:{route}", kwargs=kwargs)


def who(user) -> str | None:
    return user.get_username() if user is not None else None


def page_of(request: HttpRequest, queryset, page: int, present) -> dict:
    """One page of a list, with the URL of the next one (the same query, page + 1)."""
    pages = Paginator(queryset, PAGE_SIZE)
    current = pages.get_page(page)
    following = None
    if current.has_next():
        query: QueryDict = request.GET.copy()
        query["page"] = str(current.next_page_number())
        following = f"{request.path}?{query.urlencode()}"
    return {"count": pages.count, "page": current.number, "pages": pages.num_pages, "next": following,
            "items": present(list(current.object_list))}


def database(db: Database) -> dict:
    return {"name": db.name, "host": db.host, "port": db.port, "dbname": db.dbname, "user": db.user,
            "password_env": db.password_env, "libpq_options": db.libpq_options, "dsn": db.dsn,
            "rpo_hours": db.rpo_hours, "schedule": db.schedule, "enabled": db.enabled,
            "tiers": sorted(t.name for t in db.tiers.all()), "created_at": db.created_at,
            "updated_at": db.updated_at, "url": url("database", name=db.name), "web_url": db.get_absolute_url()}


def cell(tier_name: str, report: FreshnessReport, state: CellState | None = None) -> dict:
    return {"tier": tier_name, "state": state.state if state else str(report.status),
            "freshness": str(report.status), "age_seconds": report.age.total_seconds() if report.age else None,
            "newest_run": report.newest.run_id if report.newest else None, "verified": report.verified}


def run(r: BackupRun, proven: bool | None = None) -> dict:
    return {"id": r.pk, "database": r.database.name, "status": r.status, "trigger": r.trigger,
            "requested_by": who(r.requested_by), "created_at": r.created_at, "started_at": r.started_at,
            "finished_at": r.finished_at, "size_bytes": r.size_bytes, "sha256": r.sha256,
            "warnings": list(r.warnings), "error": r.error,
            "verified": bool(proven if proven is not None else getattr(r, "proven", False)),
            "url": url("run", run_id=r.pk), "web_url": r.get_absolute_url()}


def verification(v: Verification) -> dict:
    a = v.artifact
    return {"id": v.pk, "copy_id": a.pk, "run": a.run_id, "tier": a.tier.name, "status": v.status,
            "requested_by": who(v.requested_by), "created_at": v.created_at, "started_at": v.started_at,
            "finished_at": v.finished_at, "restore_seconds": v.restore_seconds, "checks": list(v.checks),
            "error": v.error, "url": url("verification", verification_id=v.pk)}


def restore(r: Restore) -> dict:
    a = r.artifact
    return {"id": r.pk, "copy_id": a.pk, "run": a.run_id, "tier": a.tier.name, "mode": r.mode, "status": r.status,
            "target_database": r.target_database, "tables": list(r.tables), "requested_by": who(r.requested_by),
            "created_at": r.created_at, "started_at": r.started_at, "finished_at": r.finished_at,
            "error": r.error, "url": url("restore", restore_id=r.pk)}


def copy(a: Artifact) -> dict:
    return {"id": a.pk, "tier": a.tier.name, "status": a.status, "location": a.location, "size_bytes": a.size_bytes,
            "sha256": a.sha256, "encrypted": bool(a.encryption_recipients), "verdict": a.verdict,
            "verifications": [verification(v) for v in a.verifications.all()],
            "restores": [restore(r) for r in a.restores.all()],
            "verify_url": url("verify_copy", copy_id=a.pk), "restore_url": url("restore_copy", copy_id=a.pk)}


def alert(a: Alert) -> dict:
    return {"id": a.pk, "kind": a.kind, "severity": a.severity, "status": a.status, "title": a.title,
            "message": a.message, "database": a.database.name if a.database else None,
            "tier": a.tier.name if a.tier else None, "opened_at": a.opened_at, "resolved_at": a.resolved_at,
            "url": url("alert", alert_id=a.pk)}


def drill(d: Drill) -> dict:
    return {"id": d.pk, "title": str(d), "scenario": str(d.scenario), "database": d.database.name,
            "planned_at": d.planned_at, "simulated": d.simulated, "status": d.status(), "result": d.result(),
            "rto_target_minutes": d.rto_target_minutes, "rpo_target_minutes": d.rpo_target_minutes,
            "recovery_seconds": d.recovery_seconds, "backup_age_seconds": d.backup_age_seconds,
            "completed_at": d.completed_at, "signed_off": d.is_signed, "url": url("drill", drill_id=d.pk)}


def evidence_export(e: EvidenceExport) -> dict:
    done = e.status == EvidenceExport.Status.DONE
    return {"id": e.pk, "status": e.status, "since": e.since, "until": e.until, "databases": list(e.databases),
            "requested_by": e.requested_by_name, "created_at": e.created_at, "finished_at": e.finished_at,
            "progress": e.progress, "progress_note": e.progress_note, "size_bytes": e.size_bytes, "sha256": e.sha256,
            "error": e.error, "url": url("evidence_export", export_id=e.pk),
            "download_url": url("evidence_download", export_id=e.pk) if done else None}
