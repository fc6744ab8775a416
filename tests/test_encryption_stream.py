"""The age stream wrappers on their own: a round trip the stock tool agrees with, and every way they can fail
(damaged copy, a reader closed early, a full disk, a bad recipient) ends in one line, never a hang."""

from __future__ import annotations

import io
import os
import subprocess
import threading

import pytest
from pyrage import x25519

from backups import encryption
from backups.errors import ConfigurationError, EncryptionError

MiB = 1024 * 1024


@pytest.fixture
def key(tmp_path, settings):
    identity = x25519.Identity.generate()
    path = tmp_path / "online.key"
    path.write_text(f"{identity}\n")
    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = str(path)
    return str(identity.to_public()), path


def seal(data: bytes, recipient: str) -> bytes:
    out = io.BytesIO()
    with encryption.encrypting(out, [recipient]) as sink:
        for i in range(0, len(data), MiB):
            sink.write(data[i:i + MiB])
    return out.getvalue()


def finishes(call, seconds: float = 20) -> None:
    done = threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            call()
        except BaseException as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), "hung"
    if errors:
        raise errors[0]


def test_round_trip_in_chunks_and_the_stock_tool_agrees(key, tmp_path):
    recipient, key_file = key
    data = os.urandom(3 * MiB + 17)
    sealed = seal(data, recipient)
    assert sealed.startswith(b"age-encryption.org/v1") and data[:64] not in sealed

    with encryption.opened(io.BytesIO(sealed), "x.dump.zst.age") as plain:
        assert plain.read() == data
    (tmp_path / "x.age").write_bytes(sealed)
    stock = subprocess.run(["age", "-d", "-i", str(key_file), str(tmp_path / "x.age")], check=True,
                           capture_output=True).stdout
    assert stock == data


def test_a_truncated_copy_fails_in_one_line(key):
    recipient, _ = key
    sealed = seal(os.urandom(MiB), recipient)
    with pytest.raises(EncryptionError, match="cannot decrypt x.age: .*damaged, truncated") as caught:
        with encryption.opened(io.BytesIO(sealed[:-100]), "x.age") as plain:
            plain.read()
    assert "\n" not in str(caught.value)


def test_a_reader_closed_early_does_not_hang(key):
    recipient, _ = key
    sealed = seal(os.urandom(8 * MiB), recipient)

    def read_a_little():
        with encryption.opened(io.BytesIO(sealed), "x.age") as plain:
            assert len(plain.read(10)) == 10
            plain.seek(0)
            assert len(plain.read(10)) == 10

    finishes(read_a_little)


def test_a_full_disk_while_encrypting_is_an_error_not_a_hang(key):
    recipient, _ = key

    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise OSError(28, "No space left on device")

    def write_lots():
        with pytest.raises(EncryptionError, match="age encryption failed"):
            with encryption.encrypting(Full(), [recipient]) as sink:
                for _ in range(20):
                    sink.write(b"x" * MiB)

    finishes(write_lots)


def test_a_bad_recipient_is_a_one_line_configuration_error():
    with pytest.raises(ConfigurationError, match=r"RECIPIENTS: age1nonsense\.\.\. is not an age X25519"):
        with encryption.encrypting(io.BytesIO(), ["age1nonsense"]):
            pass


def test_a_plain_copy_is_read_as_it_is(settings):
    settings.LIFEBOAT_ENCRYPTION_IDENTITY_FILE = ""
    source = io.BytesIO(b"plain")
    with encryption.opened(source, "x.dump.zst") as plain:
        assert plain is source
