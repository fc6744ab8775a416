"""The drills app's part of the evidence package: a drill run and signed through drills.conduct is exported
with its steps, sign-off hash and follow-ups, named in summary.html; drills outside the period or the selected
databases are not; the manifest's counts and hashes match the files; a record edited after signing shows."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.db import connection

from drills import conduct
from drills.models import Contact, Drill, Participant, SignOff
from tests.drill_helpers import make_drill, some_database, the_approver, tick_all
from tests.helpers import run_command

DRILL_POPULATIONS = ("drills", "drill_steps", "drill_sign_offs", "drill_follow_ups", "dr_contacts")
EXPORTED_AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_and_sign(drill: Drill, lead, other, *, recovery_seconds: float, signed: bool = True) -> Drill:
    """Tick every item, record what the restore measured (as drills' own tests do), complete, sign."""
    tick_all(drill, lead)
    Drill.objects.filter(pk=drill.pk).update(
        restore_seconds=recovery_seconds / 4, recovery_seconds=recovery_seconds, backup_age_seconds=3 * 3600,
        validated_at=drill.planned_at, integrity_ok=True,
        integrity={"public.users": {"expected": 250, "actual": 250}, "public.lessons": {"expected": 3, "actual": 3}})
    drill = Drill.objects.get(pk=drill.pk)
    conduct.set_deviations(drill, lead, "the smoke tests were run by hand")
    conduct.add_follow_up(drill, lead, finding="smoke tests are manual", action="script them", owner=other,
                          due_date="2026-03-31")
    conduct.complete(drill, lead)
    if signed:
        Participant.objects.get_or_create(drill=drill, user=the_approver(), role=Participant.Role.APPROVER)
        conduct.sign_off(Drill.objects.get(pk=drill.pk), the_approver(), "Reviewed: recovered within the RTO.")
    return Drill.objects.get(pk=drill.pk)


@pytest.fixture
def drills(db, team_lead, dba):
    """February 2026: one real drill run and signed, one planned and never run, one planned in January and run
    on 2 February, one on another database; January and March each have a drill outside the period."""
    with time_machine.travel(at(2026, 1, 3), tick=True) as clock:
        orders, billing = some_database("orders"), some_database("billing")
        Contact.objects.create(role="Database Admin", name="Dana Dba", email="dana@example.org", phone="+1 555 0100",
                               escalation_order=1, on_call=True)
        clock.move_to(at(2026, 1, 4, 8))
        january = run_and_sign(make_drill(team_lead, dba, database=orders, planned_at=at(2026, 1, 4, 8)),
                               team_lead, dba, recovery_seconds=900)
        late = make_drill(team_lead, dba, database=orders, planned_at=at(2026, 1, 31, 8), scenario="data-corruption")
        clock.move_to(at(2026, 2, 1, 8))
        signed = run_and_sign(make_drill(team_lead, dba, database=orders, planned_at=at(2026, 2, 1, 8)),
                              team_lead, dba, recovery_seconds=1250.5)
        clock.move_to(at(2026, 2, 2, 9))
        late = run_and_sign(late, team_lead, dba, recovery_seconds=5 * 3600, signed=False)  # RTO is 4 h: fails
        never_run = make_drill(team_lead, dba, database=orders, planned_at=at(2026, 2, 15, 8))
        other_db = make_drill(team_lead, dba, database=billing, planned_at=at(2026, 2, 20, 8), simulated=True)
        clock.move_to(at(2026, 3, 1, 8))
        march = make_drill(team_lead, dba, database=orders, planned_at=at(2026, 3, 1, 8))
    return {"january": january, "signed": signed, "late": late, "never_run": never_run, "other_db": other_db,
            "march": march}


def export(tmp_path: Path, *args: str) -> tuple[dict, Path]:
    output = tmp_path / "evidence.zip"
    with time_machine.travel(EXPORTED_AT, tick=True):
        code, _, err = run_command("export_evidence", "--since", "2026-02-01", "--until", "2026-02-28",
                                   "--output", str(output), *args)
    assert code == 0, err
    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(output) as archive:
        archive.extractall(extracted)
    return json.loads((extracted / "manifest.json").read_text()), extracted


def csv_rows(extracted: Path, name: str) -> list[dict[str, str]]:
    with (extracted / f"{name}.csv").open() as f:
        return list(csv.DictReader(f))


def test_the_period_s_drills_are_exported_with_steps_sign_offs_and_follow_ups(drills, tmp_path):
    signed, late, never_run = drills["signed"], drills["late"], drills["never_run"]
    manifest, extracted = export(tmp_path, "--database", "orders")

    rows = {int(r["id"]): r for r in csv_rows(extracted, "drills")}
    # Planned or performed in February, of "orders": not January's, March's, nor billing's.
    assert set(rows) == {signed.pk, late.pk, never_run.pk}
    row = rows[signed.pk]
    assert row["scenario"] == "Server failure" and row["kind"] == "real" and row["database"] == "orders"
    assert float(row["measured_rto_seconds"]) == 1250.5 and float(row["achieved_rpo_seconds"]) == 3 * 3600
    assert row["rto_target_minutes"] == str(signed.rto_target_minutes) and row["runbook_version"] == "1"
    assert row["status_at_export"] == "signed_off" and row["result"] == "pass"
    assert json.loads(row["participants"]) == [["alex-approver", "approver"], ["terry-lead", "lead"],
                                               ["dana-dba", "scribe"]]
    criteria = {c["name"]: c["outcome"] for c in json.loads(row["criteria"])}
    assert criteria["100% data integrity"] == "pass" and criteria["Every checklist item done"] == "pass"
    assert row["integrity_ok"] == "True" and row["integrity_percent"] == "100.0"
    assert row["deviations"] == "the smoke tests were run by hand"
    assert row["signed_off_by"] == "alex-approver" and row["record_sha256"] == signed.signoff.record_sha256
    assert rows[late.pk]["signed_off_by"] == "" and rows[late.pk]["status_at_export"] == "completed"
    assert rows[late.pk]["result"] == "partial"  # 5 h against data corruption's 4 h RTO
    assert rows[never_run.pk]["status_at_export"] == "missing"

    (sign_off,) = json.loads((extracted / "drill_sign_offs.json").read_text())
    assert sign_off["drill_id"] == signed.pk and sign_off["signed_by"] == "alex-approver"
    assert sign_off["record_sha256"] == signed.signoff.record_sha256
    assert sign_off["record_sha256"] == hashlib.sha256(sign_off["record_json"].encode()).hexdigest()
    assert sign_off["record_still_matches"] is True and sign_off["statement"].startswith("Reviewed")

    steps = csv_rows(extracted, "drill_steps")
    assert len(steps) == sum(d.steps.count() for d in (signed, late, never_run))
    ticked = [s for s in steps if s["drill_id"] == str(signed.pk)]
    assert ticked and all(s["status"] == "done" and s["ticked_by__username"] == "terry-lead" and s["notes"] == "checked"
                          and s["finished_at"].startswith("2026-02-01") for s in ticked)
    assert {s["status"] for s in steps if s["drill_id"] == str(never_run.pk)} == {"pending"}

    follow_ups = json.loads((extracted / "drill_follow_ups.json").read_text())
    assert {f["drill_id"] for f in follow_ups} == {signed.pk, late.pk}
    assert {(f["owner__username"], f["due_date"], f["status"]) for f in follow_ups} == {("dana-dba", "2026-03-31",
                                                                                         "open")}
    contacts = csv_rows(extracted, "dr_contacts")
    assert len(contacts) == Contact.objects.count() and "Dana Dba" in {c["name"] for c in contacts}


def test_without_a_database_filter_every_drill_of_the_period_is_exported(drills, tmp_path):
    _, extracted = export(tmp_path)
    ids = {r["id"] for r in json.loads((extracted / "drills.json").read_text())}
    assert ids == {drills[k].pk for k in ("signed", "late", "never_run", "other_db")}
    assert {r["kind"] for r in json.loads((extracted / "drills.json").read_text())} == {"real", "simulated"}


def test_manifest_counts_match_the_rows_and_hashes_match_the_files(drills, tmp_path):
    manifest, extracted = export(tmp_path, "--database", "orders")
    populations = {p["name"]: p for p in manifest["populations"]}
    files = {f["name"]: f for f in manifest["files"]}
    for name in DRILL_POPULATIONS:
        csv_count = len(csv_rows(extracted, name))
        json_count = len(json.loads((extracted / f"{name}.json").read_text()))
        assert populations[name]["counts_by_file"] == {"csv": csv_count, "json": json_count}, name
        assert populations[name]["count"] == csv_count > 0, name
        for fmt in ("csv", "json"):
            entry = files[f"{name}.{fmt}"]
            assert hashlib.sha256((extracted / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]
            assert entry["rows"] == csv_count and entry["population"] == name
    assert populations["drills"]["count"] == 3 and populations["drill_sign_offs"]["count"] == 1
    assert set(populations["drills"]["controls"]) == {"A1.3", "CC7.5", "CC9.1", "A.8.13"}
    assert populations["dr_contacts"]["controls"] == ["CC9.1"] and not populations["dr_contacts"]["query"][
        "period_bound"]
    assert "planned_at" in populations["drills"]["query"]["sql"] and "orders" in populations["drills"]["query"][
        "sql"]
    omitted = " ".join(o["item"] for o in manifest["omissions"])
    assert "drill" not in omitted and "dr_contacts" not in omitted


def test_summary_names_each_drill_its_measures_its_sign_off_and_the_missed_ones(drills, tmp_path):
    _, extracted = export(tmp_path, "--database", "orders")
    summary = (extracted / "summary.html").read_text()
    section = summary[summary.index("<h2>DR drills</h2>"):summary.index("<h2>Retention policies")]
    signed = drills["signed"]
    assert f"#{signed.pk} {signed}" in section and "Server failure (runbook v1)" in section
    assert "21 min / ≤ 30 min" in section and "5 h / ≤ 4 h" in section  # measured RTO against the target
    assert "3 h / ≤ 24 h" in section  # achieved RPO against the target
    assert "100.0% of tables match" in section
    assert "alex-approver, 2026-02-01" in section and signed.signoff.record_sha256 in section
    assert section.count("not signed") == 2  # the late drill (completed, unsigned) and the one never run
    assert f"#{drills['january'].pk} " not in section and f"#{drills['march'].pk} " not in section
    # The drill planned for 15 February never ran; February's slot was met by the drill of 1 February.
    assert "Drills missing or overdue in the period" in section and "<strong class=\"bad\">1</strong>" in section
    assert "never started" in section and "no longer matches" not in section


def test_a_record_changed_after_signing_no_longer_matches_its_hash(drills, tmp_path):
    signed = drills["signed"]
    with connection.cursor() as cursor:  # around the model's lock, as a database owner could
        cursor.execute("UPDATE drills_drill SET recovery_seconds = 60 WHERE id = %s", [signed.pk])
    _, extracted = export(tmp_path, "--database", "orders")
    (sign_off,) = json.loads((extracted / "drill_sign_offs.json").read_text())
    assert sign_off["record_sha256"] == SignOff.objects.get(drill=signed).record_sha256
    assert sign_off["record_still_matches"] is False
    summary = (extracted / "summary.html").read_text()
    assert summary.count("the record no longer matches this hash") == 1


def test_missed_between_counts_months_whose_slot_passed_without_a_real_drill(db, team_lead, dba):
    from drills import health

    with time_machine.travel(at(2026, 1, 3), tick=False):
        orders = some_database("orders")  # the duty starts with February's slot, 1 February
    start, end = at(2026, 1, 1), at(2026, 4, 1)
    assert health.missed_between(start, end, at(2026, 2, 1, 12)) == []  # February's slot has not passed yet
    months = [a.message for a in health.missed_between(start, end, at(2026, 3, 10))]
    assert len(months) == 2 and "2026-02" in months[0] and "2026-03" in months[1]  # January had no duty yet

    with time_machine.travel(at(2026, 2, 10, 9), tick=True):
        simulated = make_drill(team_lead, dba, database=orders, planned_at=at(2026, 2, 10, 9), simulated=True)
        run_and_sign(simulated, team_lead, dba, recovery_seconds=60)
    assert len(health.missed_between(start, end, at(2026, 3, 10))) == 2  # a simulated drill is not a real one
    with time_machine.travel(at(2026, 2, 12, 9), tick=True):
        run_and_sign(make_drill(team_lead, dba, database=orders, planned_at=at(2026, 2, 12, 9)), team_lead, dba,
                     recovery_seconds=60)
    (march,) = health.missed_between(start, end, at(2026, 3, 10))
    assert march.kind == "missing" and "2026-03" in march.message
