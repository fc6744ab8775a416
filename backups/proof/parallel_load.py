"""Load the data section of an archive with several COPY streams per table.

pg_restore loads each table over one connection (`-j` spreads tables, not rows), so a database dominated by one
big table restores at the speed of one server core however many the server has. Here pg_restore still reads the
archive and writes its data section as SQL (`pg_restore --section=data --file=-`); the rows of each `COPY ... FROM
stdin;` block are cut on line boundaries into chunks that several connections, each running that same COPY, take
from one queue. Every other line (session settings, sequence positions, large objects) goes to psql in order.

COPY's text format escapes newlines and backslashes inside values, so a line is always exactly one row and a line
that is exactly `\\.` always ends the block: the rows can be split without parsing them. The server parses them as
it would from pg_restore; only their order within a table differs, which no check depends on.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import psycopg

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools
from backups.errors import RestoreFailed
from backups.storage.interface import CHUNK

APPLICATION_NAME = "lifeboat-verify-load"  # the COPY streams; psql's side channel is lifeboat-verify-psql
END_OF_COPY = b"\\.\n"
COPY_START = re.compile(rb"^COPY .+ FROM stdin;\n$")
# Session settings pg_restore writes before the data (client_encoding, standard_conforming_strings, search_path,
# xmloption...): each COPY connection applies them too, since the encoding decides how the rows are read.
SESSION_SETTING = re.compile(rb"^(SET [a-z_]+ = .*;|SELECT pg_catalog\.set_config\(.*\);)\n$")


@dataclass
class LoadStats:
    streams: int
    tables: int = 0
    bytes: int = 0


class ScriptReader:
    """Lines of a SQL script, and the rows of a COPY block as buffers of whole lines, from a binary stream.

    Rows are handed out as memoryviews of what was read, not copies: at hundreds of MB a second, copying each
    byte again in Python costs as much as the server spends loading it.
    """

    def __init__(self, raw: BinaryIO, chunk: int = CHUNK) -> None:
        self._raw = raw
        self._chunk = chunk
        self._data = b""
        self._pos = 0

    def _more(self) -> bytes:
        return self._raw.read(self._chunk)

    def line(self) -> bytes:
        """The next line with its newline; b"" at the end of the script."""
        while True:
            end = self._data.find(b"\n", self._pos)
            if end >= 0:
                line = self._data[self._pos:end + 1]
                self._pos = end + 1
                return line
            more = self._more()
            rest = self._data[self._pos:]
            self._data, self._pos = rest + more, 0
            if not more:
                self._data = b""
                return rest

    def copy_rows(self) -> Iterator[tuple[bytes | memoryview, ...]]:
        """Buffers of whole rows up to the `\\.` line, which is consumed and not yielded."""
        carry = b""  # the start of a row whose end has not been read yet
        while True:
            data, pos = self._data, self._pos
            if pos >= len(data):
                data, pos = self._more(), 0
                self._data, self._pos = data, 0
                if not data:
                    raise RestoreFailed("the archive's data ended inside a COPY block (truncated archive?)")
            first = b""
            if carry:
                newline = data.find(b"\n", pos)
                if newline < 0:
                    carry += data[pos:]
                    self._pos = len(data)
                    continue
                first, carry, pos = carry + data[pos:newline + 1], b"", newline + 1
                if first == END_OF_COPY:
                    self._pos = pos
                    return
            end = find_end_of_copy(data, pos)
            if end >= 0:
                self._pos = end + len(END_OF_COPY)
                yield first, memoryview(data)[pos:end]
                return
            last = data.rfind(b"\n", pos)
            body_end = last + 1 if last >= pos else pos
            carry = data[body_end:]
            self._pos = len(data)
            yield first, memoryview(data)[pos:body_end]


def find_end_of_copy(data: bytes, start: int) -> int:
    """Where the `\\.` line is in data[start:] (start is the start of a line), or -1.

    Looking for the backslash alone is a memchr, several times faster than a multi-byte search, and backslashes
    are rare in most rows; where they are common (bytea, escaped text) one multi-byte search takes over.
    """
    pos = start
    for _ in range(32):
        hit = data.find(b"\\", pos)
        if hit < 0:
            return -1
        if (hit == start or data[hit - 1] == 0x0A) and data[hit + 1:hit + 3] == b".\n":
            return hit
        pos = hit + 1
    hit = data.find(b"\n" + END_OF_COPY, pos - 1)
    return hit + 1 if hit >= 0 else -1


class _CopyStream:
    """One connection that runs the COPY of every table, after the session settings it has not applied yet."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.applied = 0

    def copy(self, statement: bytes, settings: list[bytes], chunks: queue.Queue, abort: threading.Event) -> None:
        """COPY chunks from the queue until its None. The server reports a bad row when the COPY ends, so an
        error may come after that None was taken; before it, the queue is drained so the reader never blocks."""
        got_end = False
        try:
            for setting in settings[self.applied:]:
                self.conn.execute(setting)
            self.applied = len(settings)
            with self.conn.cursor() as cur, cur.copy(statement) as copy:
                while (buffers := chunks.get()) is not None:
                    for buffer in buffers:
                        if buffer:
                            copy.write(buffer)
                got_end = True
        except BaseException:
            abort.set()
            while not got_end and chunks.get() is not None:
                pass
            raise


class _SideChannel:
    """psql, fed every line that is not COPY data, so statements are parsed by PostgreSQL's own client."""

    def __init__(self, target: ConnectionOptions) -> None:
        argv = [pgtools.pg_binary("psql"), *target.cli_args(application_name="lifeboat-verify-psql"), "--no-psqlrc",
                "--quiet", "--set=ON_ERROR_STOP=1", "--output=/dev/null"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=target.env())
        self.stderr = pgtools.StderrDrain(self.proc.stderr)

    def write(self, line: bytes) -> None:
        try:
            self.proc.stdin.write(line)
        except BrokenPipeError:
            self.close()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        code = self.proc.wait()
        said = self.stderr.join()
        if code != 0:
            message = " ".join(said.split())
            raise RestoreFailed(f"psql exited with status {code} in the data section: {message or 'no message'}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stderr.join()


def load_data_section(script: BinaryIO, target: ConnectionOptions, jobs: int,
                      session: tuple[str, ...] = (), chunk: int = CHUNK) -> LoadStats:
    """Run a data-section script read from `script` against target, each table's rows over `jobs` connections.

    `session` holds extra statements every connection runs first (say, SET synchronous_commit = off).
    Raises RestoreFailed naming the server's error; the caller drops the half-loaded database.
    """
    stats = LoadStats(streams=max(1, jobs))
    reader = ScriptReader(script, chunk)
    side = _SideChannel(target)
    streams: list[_CopyStream] = []
    settings: list[bytes] = [s.encode() for s in session]
    try:
        for _ in range(stats.streams):
            streams.append(_CopyStream(target.connect(application_name=APPLICATION_NAME)))
        with ThreadPoolExecutor(len(streams), thread_name_prefix="copy") as pool:
            while line := reader.line():
                start = COPY_START.match(line)
                if start is None:
                    if SESSION_SETTING.match(line):
                        settings.append(line)
                    side.write(line)
                    continue
                stats.bytes += _load_block(pool, streams, line[:-2], settings, reader)  # without ";\n"
                stats.tables += 1
        side.close()
    except BaseException:
        side.kill()
        raise
    finally:
        for stream in streams:
            stream.conn.close()
    return stats


def _load_block(pool: ThreadPoolExecutor, streams: list[_CopyStream], statement: bytes, settings: list[bytes],
                reader: ScriptReader) -> int:
    chunks: queue.Queue = queue.Queue(maxsize=2 * len(streams))
    abort = threading.Event()
    futures: list[Future] = [pool.submit(s.copy, statement, list(settings), chunks, abort) for s in streams]
    size = 0
    try:
        for chunk in reader.copy_rows():
            if abort.is_set():
                break
            chunks.put(chunk)
            size += sum(len(buffer) for buffer in chunk)
    finally:
        for _ in streams:
            chunks.put(None)
    for future in futures:
        try:
            future.result()
        except psycopg.Error as exc:
            message = " ".join(str(exc).split())
            what = statement.decode(errors="replace")
            raise RestoreFailed(f"loading rows failed ({what}): {message}") from None
    return size
