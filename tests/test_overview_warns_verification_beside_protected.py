"""The overview says when verification restores run on a server that also holds a protected database."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from backups.models import Artifact, BackupRun, Database, Verification

WARNING = 'id="verification-beside-protected"'


def _verified_on(database: Database, local_tier, sysid: str) -> None:
    run = BackupRun.objects.create(database=database, status="succeeded", started_at=timezone.now())
    artifact = Artifact.objects.create(run=run, tier=local_tier, location="/nowhere", status="stored")
    Verification.objects.create(artifact=artifact, status="passed", server_system_identifier=sysid,
                                started_at=timezone.now())


def test_warns_when_each_database_is_verified_on_its_own_server(client, dba, settings):
    settings.LIFEBOAT_VERIFY_DSN = ""
    Database.objects.create(name="orders", dbname="orders")
    client.force_login(dba)
    page = client.get(reverse("home")).content.decode()
    assert WARNING in page and "(orders)" in page


def test_warns_when_the_verification_server_is_a_protected_databases_server(client, dba, settings, local_tier):
    settings.LIFEBOAT_VERIFY_DSN = "postgresql://postgres@verify.example:5432/postgres"
    orders = Database.objects.create(name="orders", dbname="orders", system_identifier="111")
    Database.objects.create(name="billing", dbname="billing", system_identifier="222")
    client.force_login(dba)

    _verified_on(orders, local_tier, "333")  # a server of its own
    assert WARNING not in client.get(reverse("home")).content.decode()

    _verified_on(orders, local_tier, "222")  # the newest verification ran beside billing
    page = client.get(reverse("home")).content.decode()
    assert WARNING in page and "(billing)" in page
