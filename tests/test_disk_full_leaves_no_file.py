"""A disk that fills at any point of a write leaves no file behind: not the `.partial`, not a half-set of files.

Two ways a disk fills: the file-size limit (RLIMIT_FSIZE: EFBIG, in a child process) at every 16 KiB of the write
chain the pipeline uses (zstd into atomic_file), and a real 2 MiB tmpfs (ENOSPC) filled up to every point of a
whole backup: inside the dump, at its end, in the globals file, in the manifest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backups.engine import pipeline
from backups.models import BackupRun

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096

RLIMIT_SCRIPT = r"""
import errno, json, os, resource, signal, sys
import django
django.setup()
import zstandard
from pathlib import Path
from backups.storage.interface import atomic_file

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
directory = Path(sys.argv[1])
data = os.urandom(1024 * 1024)  # incompressible: every byte in reaches the file
limits = sorted({0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537, 1048575, 1048576}
                | set(range(0, 1024 * 1024 + 32 * 1024, 16 * 1024)))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
results = []
for limit in limits:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        with atomic_file(directory / "db_backup.dump.zst", run_id=7) as out:
            with zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False) as z:
                for i in range(0, len(data), 64 * 1024):
                    z.write(data[i:i + 64 * 1024])
        outcome = "written"
    except OSError as exc:
        outcome = errno.errorcode.get(exc.errno, str(exc.errno))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    left = sorted(p.name for p in directory.iterdir())
    results.append({"limit": limit, "outcome": outcome, "left": left})
    for p in directory.iterdir():
        p.unlink()
print(json.dumps(results))
"""


def test_file_size_limit_at_every_point_of_the_write_leaves_no_file(tmp_path):
    import json

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "LIFEBOAT_VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-c", RLIMIT_SCRIPT, str(out_dir)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    failed = [r for r in results if r["outcome"] != "written"]
    assert len(failed) > 60 and {r["outcome"] for r in failed} == {"EFBIG"}
    assert [r for r in failed if r["left"]] == []  # no .partial, no final file, at any limit
    assert [r["left"] for r in results if r["outcome"] == "written"] == [["db_backup.dump.zst"]]


@pytest.fixture
def small_disk(backup_root):
    """A 2 MiB tmpfs as the backup directory (we are root in the test environment)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    backup_root.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(backup_root)], check=True)
    try:
        yield backup_root
    finally:
        subprocess.run(["umount", "-l", str(backup_root)], check=True)


def fill(directory: Path, leave_free: int) -> Path:
    """Fill the tmpfs so that `leave_free` bytes (rounded down to pages) remain."""
    filler = directory / "filler.bin"
    filler.unlink(missing_ok=True)
    stat = os.statvfs(directory)
    size = stat.f_bavail * stat.f_frsize - leave_free
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, size))
    return filler


MEDIUM = "CREATE TABLE pad AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g"


def test_a_full_disk_at_every_point_of_a_backup_leaves_no_file(small_disk, learning_db, pg_server, tmp_path,
                                                              settings):
    with pg_server.connect(learning_db.dbname) as conn:
        conn.execute(MEDIUM)
    # The same backup on a roomy disk: how much each file needs.
    settings.LIFEBOAT_BACKUP_ROOT = tmp_path / "roomy"
    reference = pipeline.backup(learning_db)
    assert reference.status == BackupRun.Status.SUCCEEDED
    sizes = sorted(p.stat().st_size for p in (tmp_path / "roomy").rglob("*") if p.is_file())
    total = sum(-(-s // PAGE) * PAGE for s in sizes)
    settings.LIFEBOAT_BACKUP_ROOT = small_disk
    assert total < 2 * 1024 * 1024 - 8 * PAGE, "the test database outgrew the small disk"

    # Free space from none, through the dump, up to where the globals and then the manifest no longer fit.
    points = [0, PAGE, total // 3, *range(total - 6 * PAGE, total + PAGE, PAGE)]
    outcomes = []
    for free in points:
        filler = fill(small_disk, free)
        run = pipeline.backup(learning_db)
        left = sorted(p.name for p in small_disk.rglob("*") if p.is_file() and p != filler)
        outcomes.append((free, run.status, run.error, left))
        if run.status == BackupRun.Status.FAILED:
            assert left == [], f"with {free} bytes free a failed backup left {left}"
            assert "No space left on device" in run.error
        else:
            assert not [n for n in left if n.endswith(".partial")]
            for name in left:
                (small_disk / name).unlink()
            run.artifacts.all().delete()
    failed = [o for o in outcomes if o[1] == BackupRun.Status.FAILED]
    assert len(failed) >= len(points) - 2, outcomes
    assert any(o[1] == BackupRun.Status.FAILED for o in outcomes if o[0] >= total - 2 * PAGE), outcomes


def test_a_file_renamed_but_not_made_durable_is_not_kept(tmp_path, monkeypatch):
    """fsync of the directory fails after the rename (an I/O error): the file is not a copy anyone may count on."""
    from backups.storage import interface

    def failing_fsync_dir(path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(interface, "fsync_dir", failing_fsync_dir)
    with pytest.raises(OSError, match="Input/output error"):
        with interface.atomic_file(tmp_path / "x.dump.zst", run_id=3) as out:
            out.write(b"data")
    assert list(tmp_path.iterdir()) == []
