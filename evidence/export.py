"""Build one evidence package: every registered population of a scope, streamed into a zip, with a manifest
(query parameters, counts, hashes, control mapping, omissions) and SHA256SUMS.txt.

The zip is written to `<output>.partial` and renamed when complete: a file with the final name is whole.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from audit import anchor, trail
from audit.chain import gap_line, verify_chain
from audit.models import AuditChainHead
from core.hashing import sha256_of
from core.heartbeat import heartbeat
from evidence import populations as registry
from evidence.controls import CONTROLS
from evidence.models import EvidenceExport
from evidence.period import Scope
from evidence.signing import SIGNATURE_NAME, sign, signing_key
from evidence.summary import render_summary
from evidence.tier_config import live_bucket_settings
from evidence.zipstream import PackageWriter

FORMAT = "lifeboat-evidence/1"
CHUNK = 2000
Progress = Callable[[int, str], None]


def app_version() -> str:
    try:
        return metadata.version("lifeboat")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_package(scope: Scope, output: Path, *, exported_by: str, progress: Progress | None = None) -> dict:
    """Write the package to `output`; return its manifest. Memory stays flat: rows stream from iterator()."""
    progress = progress or (lambda percent, note: None)
    generated_at = timezone.now()
    progress(2, "verifying the audit chain")
    chain = verify_chain(anchor.known_anchors()).as_dict()  # exactly verify_audit_log's check, anchors included
    head = AuditChainHead.objects.filter(pk=1).first()
    pops = registry.registered()
    omissions = [{"item": f"{name}.csv/.json", "reason": f"{what}: not part of this installation"}
                 for name, what in registry.missing().items()]
    # What Lifeboat's loss took from the trail, as the recovery disclosed it: the package says so, not "intact".
    omissions += [{"item": f"audit events {gap['from_count'] + 1}..{gap['to_count']}",
                   "reason": gap_line(gap)} for gap in chain.get("gaps", [])]
    key = signing_key()
    if key.secret is None:
        omissions.append({"item": SIGNATURE_NAME, "reason": key.why_not})
    files: list[dict[str, Any]] = []
    described: list[dict[str, Any]] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        package = PackageWriter(archive)
        for index, pop in enumerate(pops):
            progress(5 + 85 * index // len(pops), f"writing {pop.name}")
            queryset = pop.queryset(scope)
            # Rows appended while we write (a backup finishing now) stay out of every format alike.
            bound = queryset.aggregate(bound=Max("id"))["bound"] if "id" in pop.fields else None
            if bound is not None:
                queryset = queryset.filter(id__lte=bound)
            counts = {}
            for fmt in pop.formats:
                entry = package.write_rows(f"{pop.name}.{fmt}", fmt, pop.fields, pop.stream(queryset, CHUNK))
                counts[fmt] = entry.rows
                files.append({"name": entry.name, "sha256": entry.sha256, "size": entry.size, "rows": entry.rows,
                              "population": pop.name, "controls": list(pop.controls)})
            described.append({"name": pop.name, "title": pop.title, "controls": list(pop.controls),
                              "count": counts[pop.formats[0]], "counts_by_file": counts,
                              "query": {"selection": pop.selection, "period_bound": pop.per_period,
                                        "scope": scope.describe(), "highest_id_included": bound,
                                        "sql": pop.sql(queryset)}})
        progress(90, "reading live bucket settings")
        live, live_omissions = live_bucket_settings()
        omissions += live_omissions
        if live:
            entry = package.write_text("tier_live_config.json", json.dumps(live, indent=2, sort_keys=True, default=str))
            files.append({"name": entry.name, "sha256": entry.sha256, "size": entry.size,
                          "population": "tiers", "controls": ["A1.2", "CC9.1", "A.8.13"]})
        manifest: dict[str, Any] = {
            "format": FORMAT, "app": "Lifeboat", "app_version": app_version(),
            "generated_at": generated_at.isoformat(), "exported_by": exported_by, "period": scope.describe(),
            "audit_chain": {"head_hash": head.last_hash if head else None, "head_count": head.count if head else 0,
                            "verification": chain},
            "controls": CONTROLS, "populations": described, "files": files, "omissions": omissions,
            "signature": {"file": SIGNATURE_NAME, "tool": "minisign", "public_key": key.public_base64}
            if key.secret else None,
        }
        progress(95, "writing the summary")
        policies = list(registry.REGISTRY["retention_policies"].rows(scope)) if "retention_policies" in \
            registry.REGISTRY else []
        summary = package.write_text("summary.html", render_summary(
            scope=scope, manifest=manifest, chain=chain, controls=CONTROLS, populations=described, policies=policies))
        files.append({"name": summary.name, "sha256": summary.sha256, "size": summary.size, "population": None,
                      "controls": list(CONTROLS)})
        package.write_text("manifest.json", json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        sums = package.sha256sums()
        package.write_text("SHA256SUMS.txt", sums)
        if key.secret is not None:  # signing the sums signs every file they name
            comment = f"Lifeboat evidence {scope.since}..{scope.until} generated {generated_at:%Y-%m-%dT%H:%M:%SZ}"
            archive.writestr(SIGNATURE_NAME, sign(key, sums.encode("utf-8"), comment))
    with partial.open("rb+") as f:
        os.fsync(f.fileno())
    partial.replace(output)
    return manifest


def export_path(export: EvidenceExport) -> Path:
    return Path(settings.LIFEBOAT_EVIDENCE_DIR) / export.filename


def export_to_file(scope: Scope, output: Path, *, user=None, exported_by: str | None = None,
                   progress: Progress | None = None) -> tuple[dict, str, int]:
    """Build the package and record the export in the audit trail; (manifest, sha256, size)."""
    who = exported_by or trail.actor_name(user)
    try:
        manifest = build_package(scope, output, exported_by=who, progress=progress)
    except BaseException:  # a disk that filled, a query that failed: no half-written package stays behind
        output.with_name(output.name + ".partial").unlink(missing_ok=True)
        raise
    size, sha256 = sha256_of(output)
    trail.record("evidence.exported", actor=user if user is not None else who,
                 summary=f"evidence package {scope.since}..{scope.until} exported ({size} bytes)",
                 details={"period": scope.describe(), "file": output.name, "sha256": sha256, "size": size,
                          "counts": {p["name"]: p["count"] for p in manifest["populations"]},
                          "omissions": [o["item"] for o in manifest["omissions"]]})
    return manifest, sha256, size


def run_export(export: EvidenceExport) -> EvidenceExport:
    """The django-q2 task's body: claim the request, build it with progress, record the outcome."""
    if not export.claim():
        return export
    try:
        scope = Scope.build(export.since, export.until, export.databases)
        output = export_path(export)
        with heartbeat(export):  # written by its own thread: a long query is not a dead worker
            _, sha256, size = export_to_file(scope, output, user=export.requested_by,
                                             exported_by=export.requested_by_name, progress=export.report_progress)
    except Exception as exc:  # the auditor sees why on the page; the trail says it failed
        export.mark_failed(f"{type(exc).__name__}: {exc}")
        trail.record("evidence.export_failed", actor=export.requested_by, target=export,
                     summary=f"evidence export #{export.pk} failed", details={"error": export.error})
        raise
    if not export.mark_done(str(output), size, sha256):  # abandoned by the reaper meanwhile: not a package
        output.unlink(missing_ok=True)
    return export


def reap_abandoned(now) -> list[EvidenceExport]:
    """The reaper's part for exports (registered in apps.py): a running export whose heartbeat stopped is
    abandoned and its partial package removed."""
    from backups.reaper import abandon, stale, why

    reaped = []
    for export in stale(EvidenceExport.objects.filter(status=EvidenceExport.Status.RUNNING), now):
        if abandon(EvidenceExport, export, EvidenceExport.Status.ABANDONED, finished_at=now,
                   error=why(export.heartbeat_at)):
            output = export_path(export)
            output.with_name(output.name + ".partial").unlink(missing_ok=True)
            trail.record("evidence.export_abandoned", target=export, summary=f"evidence export #{export.pk} abandoned",
                         details={"error": why(export.heartbeat_at)})
            reaped.append(export)
    return reaped
