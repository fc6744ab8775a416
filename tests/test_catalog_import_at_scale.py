"""import_catalog on a bucket of 10,000 manifests (issue 19, acceptance): other writers are never refused while it
runs, and its memory stays flat.

Two processes on one SQLite file with Lifeboat's production settings (WAL, IMMEDIATE transactions): the import
(`import_catalog` reading a moto bucket through boto3), and a writer that appends an audit event every 10 ms with a
1 s busy timeout, as the web server and the qcluster do. One write transaction around the import (as before
issue 19) refuses the writer with "database is locked" after 1 s. Memory: while importing 10,000 manifests the
process holds no more Python objects than while importing 1,000, beyond its bounded listing window (holding every
key and manifest, as before, adds several objects for each). The longest wait the writer saw, the times and the
peak RSS (which counts moto's in-process work too) are printed: bench figures, not assertions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_scale import figures, import_beside_writer, migrate

SMALL, LARGE = 1_000, 10_000
# What importing 10,000 manifests may hold beyond importing 1,000: the import holds the listing page it works on
# and its two neighbours (3,000 keys at most, where 1,000 manifests fill two pages). Holding every key and
# manifest, as the import did before, adds about six objects a manifest: over 50,000 here.
FLAT_OBJECTS = 15_000


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A migrated SQLite installation, once per session (migrate takes seconds)."""
    var_dir = tmp_path_factory.mktemp("lifeboat-at-scale")
    migrate(var_dir)
    return var_dir


@pytest.mark.slow
def test_ten_thousand_manifests_never_lock_out_a_writer_and_memory_stays_flat(migrated_sqlite, tmp_path):
    result, writes = import_beside_writer(migrated_sqlite, tmp_path, SMALL, LARGE, defer_hashing=True)
    print("\n" + figures(result, writes))

    assert (result["large"]["imported"], result["large"]["flagged"]) == (LARGE, 0)
    assert result["large"]["hashing_deferred"] == LARGE
    assert writes["refusals"] == []  # never "database is locked" with a 1 s busy timeout
    assert writes["writes"] > LARGE // 100  # and it kept writing all along
    # Flat: reading 10,000 manifests holds no more than the listing window beyond reading 1,000.
    assert result["large"]["most_objects_held"] - result["small"]["most_objects_held"] < FLAT_OBJECTS
