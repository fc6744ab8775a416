"""Encryption at rest with age (X25519 recipients), a standard format that the stock `age` tool opens.

Written as the stream is written: the plaintext goes through an OS pipe into pyrage's `encrypt_io`, running in a
thread, which writes age's STREAM format (64 KiB authenticated chunks) into the destination file. Read the same
way with `decrypt_io`. Nothing unencrypted touches disk, and memory stays flat (pyrage pulls and pushes in
chunks). No crypto is done here: pyrage (the Rust `age` implementation) does all of it.

- `LIFEBOAT_ENCRYPTION_RECIPIENTS`: the public keys every copy is encrypted to (an online key and an offline
  recovery key). Public, so each artifact records them (its "fingerprints") to say which key opens it.
- `LIFEBOAT_ENCRYPTION_IDENTITY_FILE`: the secret keys of the hosts that verify or restore. Several lines are
  allowed: keep old identities for reading old copies, so a key is rotated without re-encrypting anything.

Encrypted objects are named with the `.age` suffix (`.dump.zst.age`, `.globals.sql.age`, `.sqlite3.zst.age`).
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import BinaryIO

import pyrage
from django.conf import settings
from pyrage import x25519

from backups.errors import ConfigurationError, EncryptionError

SUFFIX = ".age"
IDENTITY_SETTING = "LIFEBOAT_ENCRYPTION_IDENTITY_FILE"


def is_encrypted(name: str) -> bool:
    return name.endswith(SUFFIX)


def configured_recipients() -> list[str]:
    """The public recipients copies are encrypted to now (empty: encryption off)."""
    return list(settings.LIFEBOAT_ENCRYPTION_RECIPIENTS)


def enabled() -> bool:
    return bool(configured_recipients())


def suffix() -> str:
    """What to append to a new object's name: `.age` when encrypting."""
    return SUFFIX if enabled() else ""


def parse_recipients(values: list[str]) -> list[x25519.Recipient]:
    parsed = []
    for value in values:
        try:
            parsed.append(x25519.Recipient.from_str(value.strip()))
        except pyrage.RecipientError as exc:
            raise ConfigurationError(f"LIFEBOAT_ENCRYPTION_RECIPIENTS: {value[:12]}... is not an age X25519 "
                                     f"recipient ({exc})") from None
    return parsed


def load_identities() -> list[x25519.Identity]:
    """Every `AGE-SECRET-KEY-1...` line of the identity file (comments and blank lines skipped)."""
    path_text = settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE
    if not path_text:
        raise EncryptionError(f"this copy is encrypted and {IDENTITY_SETTING} is not set: "
                              "point it at the file holding the age identity (the recovery key)")
    path = Path(path_text)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise EncryptionError(f"cannot read the age identity file {path} ({IDENTITY_SETTING}): "
                              f"{exc.strerror or exc}") from None
    identities = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise EncryptionError(f"{path} line {number} is not an age X25519 identity") from None
    if not identities:
        raise EncryptionError(f"the age identity file {path} ({IDENTITY_SETTING}) holds no identity")
    return identities


class _Pump(threading.Thread):
    """Runs one pyrage stream call (encrypt_io or decrypt_io) and keeps its error for the caller."""

    def __init__(self, call, *args) -> None:
        super().__init__(daemon=True, name="age-stream")
        self.call, self.args = call, args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.call(*self.args)
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
        finally:
            for end in self.args[:2]:
                if isinstance(end, io.IOBase) and getattr(end, "_lifeboat_pipe", False):
                    try:
                        end.close()
                    except OSError:
                        pass


def _pipe() -> tuple[BinaryIO, BinaryIO]:
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "rb"), os.fdopen(w, "wb")
    reader._lifeboat_pipe = writer._lifeboat_pipe = True  # type: ignore[attr-defined]
    return reader, writer


@contextmanager
def encrypting(out: BinaryIO, recipients: list[str]) -> Iterator[BinaryIO]:
    """A writer whose plaintext reaches `out` encrypted to every recipient, in age's format."""
    parsed = parse_recipients(recipients)
    reader, writer = _pipe()
    pump = _Pump(pyrage.encrypt_io, reader, out, parsed)
    pump.start()
    try:
        yield writer
        writer.close()
    except BrokenPipeError:
        pump.join()
        if pump.error is None:
            raise
        raise EncryptionError(f"age encryption failed: {pump.error}") from None
    finally:
        try:
            writer.close()
        except BrokenPipeError:
            pass
        pump.join()
    if pump.error is not None:
        raise EncryptionError(f"age encryption failed: {pump.error}")


@contextmanager
def sealing(out: BinaryIO, recipients: list[str] | None = None) -> Iterator[BinaryIO]:
    """`encrypting` to the configured recipients, or `out` itself when encryption is off."""
    recipients = configured_recipients() if recipients is None else recipients
    with encrypting(out, recipients) if recipients else nullcontext(out) as sink:
        yield sink


class DecryptingReader(io.RawIOBase):
    """The plaintext of an age-encrypted source, read as it is decrypted.

    An error (no matching identity, a damaged or truncated copy) is raised from `read` as an EncryptionError
    with one line. age authenticates every 64 KiB chunk and the last one is marked, so a truncated copy fails
    at its end. `seek(0)` starts over (the source must be seekable then): verification reads twice.
    """

    def __init__(self, source: BinaryIO, identities: list[x25519.Identity], name: str = "") -> None:
        super().__init__()
        self.source, self.identities, self.name = source, identities, name
        self._start()

    def _start(self) -> None:
        self._pipe, writer = _pipe()
        self._pump = _Pump(pyrage.decrypt_io, self.source, writer, self.identities)
        self._pump.start()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        n = self._pipe.readinto(buffer)
        if not n:
            self._pump.join()
            if self._pump.error is not None:
                raise EncryptionError(self._message(self._pump.error))
        return n or 0

    def _message(self, error: BaseException) -> str:
        what = f"cannot decrypt {self.name}" if self.name else "cannot decrypt the copy"
        text = str(error)
        if "No matching keys" in text:
            return (f"{what}: no identity in {settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE} ({IDENTITY_SETTING}) "
                    "matches its recipients (wrong or missing key)")
        return f"{what}: {' '.join(text.split()) or type(error).__name__} (damaged, truncated or not an age file)"

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise io.UnsupportedOperation("a decrypting reader can only start over")
        self._stop()
        self.source.seek(0)
        self._start()
        return 0

    def _stop(self) -> None:
        self._pipe.close()  # a pump still writing gets a broken pipe and ends
        self._pump.join()

    def close(self) -> None:
        if not self.closed:
            self._stop()
        super().close()


def reader_for(source: BinaryIO, name: str) -> BinaryIO:
    """`source` itself for a plain copy, a DecryptingReader (identities from the file) for a `.age` one."""
    if not is_encrypted(name):
        return source
    return DecryptingReader(source, load_identities(), Path(name).name)


@contextmanager
def opened(source: BinaryIO, name: str) -> Iterator[BinaryIO]:
    reader = reader_for(source, name)
    try:
        yield reader
    finally:
        if reader is not source:
            reader.close()


def check_readable(source: BinaryIO, name: str) -> None:
    """Raise EncryptionError now, before anything is created or dropped, if the identities at hand cannot open
    this copy (age's header names no recipient we hold). A plain copy passes without reading."""
    if not is_encrypted(name):
        return
    with opened(source, name) as plain:
        plain.read(1)
