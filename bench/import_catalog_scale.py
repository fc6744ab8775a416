#!/usr/bin/env python
"""import_catalog on a large moto bucket beside a concurrent SQLite writer: times, peak memory, the writer's waits.

    .venv/bin/python bench/import_catalog_scale.py [--small 1000] [--large 10000] [--hash]

The same processes as tests/test_catalog_import_at_scale.py (tests/import_scale.py): a fresh SQLite installation
(WAL), a writer appending an audit event every 10 ms with a 1 s busy timeout, and the import of `--small` then
`--large` manifests (with `--hash`, every artifact is downloaded and hashed; by default --defer-hashing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.import_scale import figures, import_beside_writer, migrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--hash", action="store_true", help="hash every artifact (no --defer-hashing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lifeboat-import-bench-") as tmp:
        var_dir, work = Path(tmp) / "var", Path(tmp) / "work"
        var_dir.mkdir()
        work.mkdir()
        migrate(var_dir)
        result, writes = import_beside_writer(var_dir, work, args.small, args.large, defer_hashing=not args.hash)
    print(figures(result, writes))


if __name__ == "__main__":
    main()
