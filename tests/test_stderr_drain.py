"""pgtools.StderrDrain: a child that writes much to stderr while its stdout is read never blocks, and the message
kept is bounded."""

from __future__ import annotations

import subprocess
import sys

from backups.engine.pgtools import STDERR_LIMIT, StderrDrain

CHATTY = ("import sys\n"
          "for i in range(20000):\n"
          "    sys.stderr.write(f'warning {i:05d} ' + 'x' * 40 + '\\n')\n"
          "sys.stderr.flush()\n"
          "sys.stdout.write('done')\n")


def test_a_chatty_child_finishes_and_the_message_keeps_its_head_only():
    proc = subprocess.Popen([sys.executable, "-c", CHATTY], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = StderrDrain(proc.stderr)
    assert proc.stdout.read() == b"done"  # ~1 MB on stderr would fill the pipe if nobody drained it
    proc.stdout.close()
    assert proc.wait(timeout=30) == 0
    said = stderr.join()
    assert said.startswith("warning 00000 ")
    assert STDERR_LIMIT <= len(stderr.data) < STDERR_LIMIT + 100
    assert "warning 19999" not in said
    assert proc.stderr.closed


def test_a_quiet_child_says_nothing():
    proc = subprocess.Popen([sys.executable, "-c", "pass"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = StderrDrain(proc.stderr)
    assert proc.wait(timeout=30) == 0
    assert stderr.join() == ""
