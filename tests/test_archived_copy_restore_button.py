"""A copy the lifecycle moved to GLACIER comes back from its run's page (issue 19): a storage manager's button asks
S3 to restore it (the path of `restore_archived`, in a worker), the copy shows "restore requested", then
"restoring", and once S3 has restored it the schedule checks its bytes and makes it readable again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from backups import tasks
from backups.models import Artifact
from tests.catalog_helpers import forget_everything
from tests.helpers import run_json
from tests.test_catalog_import_cold_storage import seasoned_bucket  # noqa: F401 (fixture)


@pytest.fixture
def archived(seasoned_bucket, s3_tier):  # noqa: F811
    _, cold = seasoned_bucket
    forget_everything()
    code, report = run_json("import_catalog", "--tier", s3_tier.name)
    assert code == 0, report
    copy = Artifact.objects.select_related("run").get(run__backup_uuid=cold.run.backup_uuid)
    assert copy.status == Artifact.Status.ARCHIVED
    return copy


def page_of(client, artifact: Artifact) -> str:
    return client.get(artifact.run.get_absolute_url()).content.decode()


def test_a_dba_restores_an_archived_copy_from_its_run_page(archived, s3_tier, moto_s3, client, dba):
    client.force_login(dba)
    page = page_of(client, archived)
    assert "Archived (restore before reading)" in page and "Restore from GLACIER" in page
    assert 'hx-confirm="Ask S3 to restore this copy from GLACIER?' in page

    response = client.post(reverse("backups:restore_archived", args=[archived.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and response["HX-Redirect"] == archived.run.get_absolute_url()
    archived.refresh_from_db()
    assert archived.restore_state == "requested"
    page = page_of(client, archived)
    assert "Restore requested" in page and "Restore from GLACIER" not in page  # asked once

    assert tasks.restore_archived_copy(archived.pk, dba.pk) == "restore requested"  # the worker asks S3

    archived.refresh_from_db()
    assert (archived.status, archived.restore_state) == (Artifact.Status.ARCHIVED, "restoring")
    assert "Restoring" in page_of(client, archived)
    assert moto_s3.head_object(Bucket=s3_tier.bucket, Key=archived.location).get("Restore")
    requested = AuditEvent.objects.get(action="catalog.restore_requested", target_id=str(archived.pk))
    assert requested.actor == dba.username

    assert tasks.advance_cold_restores() == 1  # the schedule's next pass: moto has restored it at once

    archived.refresh_from_db()
    assert archived.is_live and archived.hash_checked and archived.restore_state == ""
    page = page_of(client, archived)
    assert "Verify this copy" in page and "Restoring" not in page
    assert AuditEvent.objects.filter(action="catalog.restored", target_id=str(archived.pk)).exists()


@pytest.mark.parametrize("persona", ["team_lead", "auditor"])
def test_only_storage_managers_see_and_may_press_the_button(archived, client, persona, request):
    client.force_login(request.getfixturevalue(persona))

    assert "Restore from GLACIER" not in page_of(client, archived)
    assert client.post(reverse("backups:restore_archived", args=[archived.pk])).status_code == 403
    archived.refresh_from_db()
    assert archived.restore_state == ""


def test_the_button_takes_only_archived_copies(archived, s3_tier, client, dba):
    live = Artifact.objects.live().filter(tier=s3_tier).first()
    client.force_login(dba)

    assert client.post(reverse("backups:restore_archived", args=[live.pk])).status_code == 404
