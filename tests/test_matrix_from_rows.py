"""The overview's matrix and /metrics at fleet scale are built from plain rows, not model instances: these tests hold
the row path to the model path (one freshness rule), the fast links to reverse(), and the /metrics text written by
hand to prometheus-client's own output."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alerts import metrics
from alerts.models import Alert
from backups.models import Artifact, BackupRun, Database, Freshness, Tier, Verification, freshness_of
from backups.web import overview
from core.links import lazy_link_maker, link_maker

P, F = Verification.Status.PASSED, Verification.Status.FAILED


def _run(database: Database, started, status=BackupRun.Status.SUCCEEDED, **fields) -> BackupRun:
    return BackupRun.objects.create(database=database, status=status, started_at=started, created_at=started,
                                    finished_at=started + timedelta(minutes=2), size_bytes=100, **fields)


def _copy(run: BackupRun, tier: Tier, *verdicts: str, **fields) -> Artifact:
    artifact = Artifact.objects.create(run=run, tier=tier, location=f"/x/{run.pk}/{tier.pk}",
                                       size_bytes=1000 + run.pk, created_at=run.started_at, **fields)
    for i, status in enumerate(verdicts):
        at = run.started_at + timedelta(minutes=10 + i)
        Verification.objects.create(artifact=artifact, status=status, created_at=at, started_at=at,
                                    finished_at=at + timedelta(minutes=1))
    return artifact


@pytest.fixture
def fleet(db):
    """Databases in every state a cell can be in, over a tier where any good copy counts and one where only a
    verified copy counts."""
    now = timezone.now()
    plain = Tier.objects.get(name="local")
    strict = Tier.objects.create(name="strict", kind=Tier.Kind.LOCAL, path="/tmp/strict", require_verified=True,
                                 position=5)
    ago = lambda hours: now - timedelta(hours=hours)  # noqa: E731

    fresh = Database.objects.create(name="fresh", dbname="a", rpo_hours=24, tags=",eu,billing,",
                                    system_identifier="7300000000000000001")
    run = _run(fresh, ago(2), warnings=["globals not saved"])
    _copy(run, plain, P)
    _copy(run, strict, P)

    due = Database.objects.create(name="due", dbname="b", rpo_hours=10)
    run = _run(due, ago(9))
    _copy(run, plain)
    _copy(run, strict, P)

    late = Database.objects.create(name="late", dbname="c", rpo_hours=4)
    _copy(_run(late, ago(30)), plain, P)

    # The newest copy in the strict tier failed its verification: an older verified one counts there.
    rotten = Database.objects.create(name="rotten", dbname="d", rpo_hours=24)
    older = _run(rotten, ago(20))
    _copy(older, plain, P)
    _copy(older, strict, P)
    newer = _run(rotten, ago(1))
    _copy(newer, plain, P, F)
    _copy(newer, strict, P, F)

    # The newest copy was deleted by retention and the newest run failed: the older copy counts.
    pruned = Database.objects.create(name="pruned.db-1", dbname="e", rpo_hours=48)
    _copy(_run(pruned, ago(40)), plain)
    _copy(_run(pruned, ago(5)), plain, status=Artifact.Status.DELETED, deleted_at=now)
    _run(pruned, ago(1), status=BackupRun.Status.FAILED)

    Database.objects.create(name="never", dbname="f")  # nothing yet
    failing = Database.objects.create(name="failing", dbname="g")
    _run(failing, ago(3), status=BackupRun.Status.FAILED)

    # An RPO saved before its bounds were checked (0 h) and an archived (disabled) database.
    odd = Database.objects.create(name="odd", dbname="h", rpo_hours=0, enabled=False)
    _copy(_run(odd, ago(0.5)), plain, P)
    archived_only = Database.objects.create(name="cold", dbname="i")
    _copy(_run(archived_only, ago(1)), plain, status=Artifact.Status.ARCHIVED)
    return now, [plain, strict]


def test_the_matrix_from_rows_says_what_each_databases_own_freshness_says(fleet):
    now, tiers = fleet
    rows = overview.freshness_matrix(tiers, now)
    models = {db.pk: db for db in Database.objects.all()}
    assert [r.database.name for r in rows] == sorted(db.name for db in models.values())
    seen = set()
    for row in rows:
        model = models[row.database.pk]
        for tier, cell in zip(tiers, row.cells, strict=True):
            expected = model.freshness(tier, now)
            seen.add(expected.status)
            assert (cell.status, cell.age, cell.verdict, cell.verified, cell.failed_verification, cell.label) == (
                expected.status, expected.age, expected.verdict, expected.verified, expected.failed_verification,
                expected.label), (model.name, tier.name)
            if expected.newest is None:
                assert cell.newest is None
                continue
            copy, run = cell.newest, cell.newest.run
            want = expected.newest
            assert (copy.pk, copy.run_id, copy.tier_id, copy.size_bytes, copy.verdict) == (
                want.pk, want.run_id, want.tier_id, want.size_bytes, want.verdict)
            assert (run.pk, run.started_at, run.finished_at, run.duration, run.warnings, run.has_warnings,
                    run.get_absolute_url()) == (
                want.run.pk, want.run.started_at, want.run.finished_at, want.run.duration, want.run.warnings,
                want.run.has_warnings, want.run.get_absolute_url())
    assert seen == {Freshness.OK, Freshness.DUE, Freshness.LATE, Freshness.NEVER}  # the cases cover every status


def test_a_database_row_answers_as_the_database_does(fleet):
    now, tiers = fleet
    for row in overview.freshness_matrix(tiers, now):
        db, model = row.database, Database.objects.get(pk=row.database.pk)
        assert (db.pk, db.id, str(db), db.name, db.host, db.port, db.rpo_hours, db.rpo, db.enabled, db.tags,
                db.tag_list, db.system_identifier, db.created_at, db.get_absolute_url()) == (
            model.pk, model.id, str(model), model.name, model.host, model.port, model.rpo_hours, model.rpo,
            model.enabled, model.tags, model.tag_list, model.system_identifier, model.created_at,
            model.get_absolute_url())


@pytest.mark.parametrize("hours", [0, 0.5, 7.9, 8, 8.1, 9.99, 10, 10.01, 400])
def test_one_freshness_rule_for_a_timestamp_and_for_a_copy(db, hours):
    """freshness_of is the rule; FreshnessReport.evaluate (the model path and the matrix) answers by it."""
    now = timezone.now()
    rpo = timedelta(hours=10)
    started = now - timedelta(hours=hours)
    status, age = freshness_of(started, rpo, now)
    assert age == timedelta(hours=hours)
    assert status == (Freshness.LATE if age > rpo else Freshness.DUE if age > rpo * 0.8 else Freshness.OK)
    database = Database.objects.create(name="one", dbname="one", rpo_hours=10)
    _copy(_run(database, started), Tier.objects.get(name="local"))
    report = database.freshness(Tier.objects.get(name="local"), now)
    assert (report.status, report.age) == (status, age)
    assert freshness_of(None, rpo, now) == (Freshness.NEVER, None)


def test_failing_databases_agree_for_a_few_and_for_a_fleet(db):
    """Up to FEW_DATABASES ids are filtered in SQL, more are read whole and filtered after: the same answer."""
    now = timezone.now()
    databases = [Database.objects.create(name=f"f{i:03d}", dbname=f"f{i}") for i in range(overview.FEW_DATABASES + 6)]
    for i, database in enumerate(databases):
        if i % 3 == 0:
            _run(database, now - timedelta(hours=5))
        if i % 2 == 0:
            _run(database, now - timedelta(hours=3), status=BackupRun.Status.FAILED)
            _run(database, now - timedelta(hours=1), status=BackupRun.Status.ABANDONED)
    asked = [db.pk for db in databases[1:]]  # one left out: not in the answer
    whole = overview.failing_databases(asked)
    assert len(asked) > overview.FEW_DATABASES and databases[0].pk not in whole
    one_by_one = {pk: f for pk in asked for f in overview.failing_databases([pk]).values()}
    assert whole == one_by_one
    assert len(whole) == len([i for i in range(1, len(databases)) if i % 2 == 0])


def test_the_tag_filter_offers_every_databases_tags(client, dba, db):
    Database.objects.create(name="a", dbname="a", tags=",eu,billing,")
    Database.objects.create(name="b", dbname="b", tags=",us,", enabled=False)
    Database.objects.create(name="c", dbname="c")
    client.force_login(dba)
    assert client.get("/").context["fleet"].tags == ["billing", "eu", "us"]


@pytest.mark.parametrize("viewname, sample, args", [
    ("backups:database_detail", "lifeboat-sample-name", ["learning", "db.with-dots_1", "x~y", "a b", "ü", "über/x",
                                                          "5"]),
    ("backups:run_detail", 1, [0, 7, 123456789]),
])
def test_a_link_maker_gives_what_reverse_gives(db, viewname, sample, args):
    make = link_maker(viewname, sample)
    for arg in args:
        try:
            expected = reverse(viewname, args=[arg])
        except Exception as exc:  # noqa: BLE001 - the maker must fail the same way
            with pytest.raises(type(exc)):
                make(arg)
        else:
            assert make(arg) == expected


def test_a_link_maker_follows_the_script_prefix(db):
    from django.urls import get_script_prefix, set_script_prefix

    before = get_script_prefix()
    try:
        set_script_prefix("/lifeboat/")
        assert link_maker("backups:run_detail", 1)(42) == reverse("backups:run_detail", args=[42])
        assert reverse("backups:run_detail", args=[42]).startswith("/lifeboat/")
    finally:
        set_script_prefix(before)


def test_a_lazy_link_maker_reverses_only_when_a_link_is_asked_for(db, monkeypatch):
    from core import links

    reversed_for = []
    real = links.link_maker
    monkeypatch.setattr(links, "link_maker", lambda *a: reversed_for.append(a) or real(*a))
    make = lazy_link_maker("backups:run_detail", 1)
    assert reversed_for == []  # the alert rules build rows and show no link: no URL conf loaded for them
    assert [make(7), make(123)] == [reverse("backups:run_detail", args=[n]) for n in (7, 123)]
    assert reversed_for == [("backups:run_detail", 1)]  # made once, at the first link


def test_metrics_text_is_what_prometheus_client_writes_and_parses_back(client, fleet, settings):
    """The exposition written by hand is byte for byte prometheus-client's generate_latest() of the same families,
    label values that need escaping included, and its parser reads back every sample."""
    now, tiers = fleet
    Alert.objects.create(key="odd", kind='odd "kind"\\with\nnewline', severity="warning", title="t", message="m")
    settings.LIFEBOAT_METRICS_TOKEN = "t0ken"

    found = metrics.families(now)
    text = metrics.exposition(found)
    assert text.encode() == generate_latest(metrics.registry)  # the registry's collector reads the same families
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken")
    assert response.status_code == 200

    parsed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}
    expected = {(f"{f.name}_total" if f.type == "counter" else f.name,
                 tuple(sorted(zip(f.labels, values, strict=True)))): value
                for f in found for values, value in f.samples}
    # The scrape ran a moment later than `found`: only the ages could differ, and none is near a boundary here.
    assert parsed == pytest.approx(expected)
    pair = (("database", "fresh"), ("tier", "local"))
    run = BackupRun.objects.get(database__name="fresh")
    assert parsed["lifeboat_backup_last_success_timestamp_seconds", pair] == pytest.approx(run.finished_at.timestamp())
    assert parsed["lifeboat_backup_late", (("database", "late"), ("tier", "local"))] == 1.0
    assert parsed["lifeboat_alerts_open", (("kind", 'odd "kind"\\with\nnewline'), ("severity", "warning"))] == 1.0
    assert not any(labels and dict(labels).get("database") == "odd" for name, labels in parsed
                   if name == "lifeboat_backup_late")  # a disabled database is history, not late
