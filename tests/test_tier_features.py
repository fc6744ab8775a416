"""What a tier's storage can do (Feature), asked of the tier's kind without building a client."""

from __future__ import annotations

import uuid

import boto3
import pytest

from backups.errors import StorageError
from backups.models import Feature, Tier
from backups.storage import storage_for
from backups.storage.local import LocalStorage

F = Feature


def test_every_kind_declares_its_features_and_only_kinds_are_declared():
    assert set(Tier.FEATURES) == set(Tier.Kind.values)
    for kind in Tier.Kind.values:
        assert Tier(kind=kind).features, kind


@pytest.mark.parametrize(("kind", "can", "cannot"), [
    (Tier.Kind.LOCAL, F.ARTIFACTS | F.LOCAL_PATH,
     [F.REMOTE, F.VERSIONS, F.BUCKET_POLICY, F.STORAGE_CLASSES, F.ARCHIVE_PREFIX, F.PROVIDER_BACKUPS]),
    (Tier.Kind.S3, F.ARTIFACTS | F.REMOTE | F.VERSIONS | F.BUCKET_POLICY | F.STORAGE_CLASSES | F.ARCHIVE_PREFIX,
     [F.LOCAL_PATH, F.PROVIDER_BACKUPS]),
    (Tier.Kind.RDS, F.REMOTE | F.PROVIDER_BACKUPS,
     [F.ARTIFACTS, F.LOCAL_PATH, F.VERSIONS, F.BUCKET_POLICY, F.STORAGE_CLASSES, F.ARCHIVE_PREFIX]),
])
def test_each_kind_can_what_it_declares_and_nothing_else(kind, can, cannot):
    tier = Tier(kind=kind)
    assert tier.features == can
    assert tier.can(can)
    for feature in can:
        assert tier.can(feature) and tier.capabilities[feature.name]
    for feature in cannot:
        assert not tier.can(feature) and not tier.capabilities[feature.name]
        assert not tier.can(can | feature), "can() asks for every flag given, not any"


def test_asking_builds_no_client(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("asking a tier what it can do must not build an AWS client")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session, "Session", refuse)
    s3 = Tier(kind=Tier.Kind.S3, bucket="")  # no bucket: building its storage would fail
    assert s3.can(Feature.BUCKET_POLICY) and not s3.can(Feature.LOCAL_PATH)


def test_the_factory_builds_storage_exactly_for_the_kinds_that_hold_artifacts(tmp_path):
    assert isinstance(storage_for(Tier(name="here", kind=Tier.Kind.LOCAL, path=str(tmp_path))), LocalStorage)
    for kind in Tier.Kind.values:
        if not Tier(kind=kind).can(Feature.ARTIFACTS):
            with pytest.raises(StorageError):
                storage_for(Tier(name="x", kind=kind))


def test_nearness_puts_copies_on_this_host_first_then_position():
    tiers = [Tier(name="s3", kind=Tier.Kind.S3, position=0), Tier(name="far", kind=Tier.Kind.LOCAL, position=5),
             Tier(name="near", kind=Tier.Kind.LOCAL, position=1)]
    assert [t.name for t in sorted(tiers, key=lambda t: t.nearness)] == ["near", "far", "s3"]


@pytest.mark.django_db
def test_that_can_selects_tiers_by_capability():
    suffix = uuid.uuid4().hex[:8]
    local = Tier.objects.create(name=f"l-{suffix}", kind=Tier.Kind.LOCAL, path="/tmp/x")
    s3 = Tier.objects.create(name=f"s-{suffix}", kind=Tier.Kind.S3, bucket="b")
    rds = Tier.objects.create(name=f"r-{suffix}", kind=Tier.Kind.RDS, rds_instance="i")
    mine = Tier.objects.filter(name__endswith=suffix)
    assert set(mine.that_can(Feature.ARTIFACTS)) == {local, s3}
    assert set(mine.that_can(Feature.LOCAL_PATH)) == {local}
    assert set(mine.that_can(Feature.REMOTE)) == {s3, rds}
    assert set(mine.that_can(Feature.ARTIFACTS | Feature.REMOTE)) == {s3}
    assert set(mine.that_can(Feature.PROVIDER_BACKUPS)) == {rds}
