"""The command line says sizes as people read them ("12.3 MiB"), in the units the charts use; --json keeps bytes."""

from __future__ import annotations

import pytest

from core.units import human_bytes
from tests.helpers import run_command


@pytest.mark.parametrize(("size", "said"), [
    (0, "0 B"), (1359, "1.33 KiB"), (10_166, "9.93 KiB"), (12_900_000, "12.3 MiB"), (5 * 1024 ** 3, "5 GiB"),
    (None, "unknown size"),
])
def test_sizes_scale_to_the_value(size, said):
    assert human_bytes(size) == said


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_backup_command_reports_human_sizes_and_json_keeps_bytes(learning_db, local_tier):
    code, out, _ = run_command("backup", learning_db.name)

    assert code == 0
    first = out.splitlines()[0]
    assert " bytes" not in out
    assert "KiB" in first or "MiB" in first
    assert f"({human_bytes(learning_db.runs.get().raw_size_bytes)} dumped)" in first

    code, out, _ = run_command("backup", learning_db.name, "--json")
    assert code == 0 and '"size_bytes": ' in out
