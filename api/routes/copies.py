"""Proving and using a copy: verify it (a restore test), restore it into a new database or some tables of it."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from api import present
from api.auth import needs
from api.changes import as_token, record
from api.models import Scope
from api.problems import Problem
from api.schemas import Accepted, ProblemOut, RestoreIn, RestoreOut, VerificationOut
from backups import tasks
from backups.errors import LifeboatError
from backups.models import Artifact, Restore, Verification
from core.roles import RUN_OPERATIONS

router = Router(tags=["copies"])
OPERATE = needs(Scope.OPERATE, RUN_OPERATIONS)


def _live_copy(copy_id: int) -> Artifact:
    return get_object_or_404(Artifact.objects.live().select_related("run__database", "tier"), pk=copy_id)


@router.post("/copies/{copy_id}/verifications", response={202: Accepted}, auth=OPERATE, url_name="verify_copy")
def verify_copy(request, copy_id: int, response: HttpResponse):
    """Restore the copy into a scratch database and check it (the run page's "Verify")."""
    artifact = _live_copy(copy_id)
    with as_token(request):
        check = tasks.queue_verification(artifact, user=request.auth.owner)
        record(request, "api.verification_requested", target=check,
               summary=f"verification of run #{artifact.run_id} in {artifact.tier.name} queued through the API",
               run=artifact.run_id, tier=artifact.tier.name)
    response["Location"] = present.url("verification", verification_id=check.pk)
    return Status(202, {"id": check.pk, "status": check.status, "url": response["Location"],
                        "web_url": artifact.run.get_absolute_url()})


@router.post("/copies/{copy_id}/restores", response={202: Accepted, 422: ProblemOut}, auth=OPERATE,
             url_name="restore_copy")
def restore_copy(request, copy_id: int, payload: RestoreIn, response: HttpResponse):
    """Restore into a new database on the source's server; with `tables`, only those (a recovery database)."""
    artifact = _live_copy(copy_id)
    tables = [t.strip() for t in payload.tables if t.strip()]
    with as_token(request):
        try:
            job = tasks.queue_restore(artifact, payload.target_database.strip(), tables=tables,
                                      user=request.auth.owner)
        except LifeboatError as exc:
            raise Problem(422, f"restore refused: {exc}", kind="restore-refused") from None
        record(request, "api.restore_requested", target=job,
               summary=f"restore of run #{artifact.run_id} into {job.target_database} queued through the API",
               run=artifact.run_id, tier=artifact.tier.name, target_database=job.target_database,
               tables=job.tables)
    response["Location"] = present.url("restore", restore_id=job.pk)
    return Status(202, {"id": job.pk, "status": job.status, "url": response["Location"],
                        "web_url": artifact.run.get_absolute_url()})


@router.get("/verifications/{verification_id}", response=VerificationOut,
            auth=needs(Scope.READ, "backups.view_verification"), url_name="verification")
def verification_detail(request, verification_id: int):
    return present.verification(get_object_or_404(
        Verification.objects.select_related("artifact__tier", "requested_by"), pk=verification_id))


@router.get("/restores/{restore_id}", response=RestoreOut, auth=needs(Scope.READ, "backups.view_restore"),
            url_name="restore")
def restore_detail(request, restore_id: int):
    return present.restore(get_object_or_404(Restore.objects.select_related("artifact__tier", "requested_by"),
                                             pk=restore_id))
