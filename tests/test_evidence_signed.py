"""Evidence an auditor can check without trusting us (issue 19, part 8): the package is signed with minisign
(SHA256SUMS.txt.minisig inside the zip), `verify_evidence` checks the signature, every hash and the manifest, and
a package made without a signing key says so in its omissions."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import minisign
import pytest

from tests.evidence_data import daily_history
from tests.helpers import run_command


@pytest.fixture
def signing_key(tmp_path, settings) -> Path:
    """A key pair made like `minisign -G -W` (no password): the secret key file and the public key file."""
    pair = minisign.KeyPair.generate()
    secret = tmp_path / "lifeboat.key"
    secret.write_bytes(b"untrusted comment: minisign encrypted secret key\n" + pair.secret_key.to_base64() + b"\n")
    public = tmp_path / "lifeboat.pub"
    public.write_bytes(b"untrusted comment: minisign public key\n" + pair.public_key.to_base64() + b"\n")
    settings.LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE = str(secret)
    return public


@pytest.fixture
def history(db, local_tier):
    return daily_history("orders", date(2026, 1, 1), 40)


def export(tmp_path: Path, name: str = "evidence.zip") -> Path:
    output = tmp_path / name
    code, _, err = run_command("export_evidence", "--since", "2026-01-01", "--until", "2026-01-31",
                               "--output", str(output))
    assert code == 0, err
    return output


def test_a_signed_package_verifies_and_one_changed_byte_fails(history, signing_key, tmp_path):
    package = export(tmp_path)
    with zipfile.ZipFile(package) as archive:
        assert "SHA256SUMS.txt.minisig" in archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert not any(o["item"] == "SHA256SUMS.txt.minisig" for o in manifest["omissions"])

    code, out, err = run_command("verify_evidence", str(package), "--public-key", str(signing_key))
    assert code == 0, out + err
    assert "signature good" in out

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "backup_runs.csv":
                data = data.replace(b"succeeded", b"succeedee", 1)
            dst.writestr(item, data)
    code, out, err = run_command("verify_evidence", str(tampered), "--public-key", str(signing_key))
    assert code == 1 and "backup_runs.csv" in err


@pytest.mark.skipif(shutil.which("minisign") is None, reason="the stock minisign tool is not installed")
def test_the_stock_minisign_tool_verifies_it(history, signing_key, tmp_path):
    package = export(tmp_path)
    extracted = tmp_path / "x"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(extracted)
    result = subprocess.run(["minisign", "-Vm", "SHA256SUMS.txt", "-p", str(signing_key)], cwd=extracted,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unsigned_package_says_so(history, tmp_path, settings):
    settings.LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE = ""
    package = export(tmp_path)
    with zipfile.ZipFile(package) as archive:
        assert "SHA256SUMS.txt.minisig" not in archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    omitted = {o["item"]: o["reason"] for o in manifest["omissions"]}
    assert "LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE" in omitted["SHA256SUMS.txt.minisig"]
    code, out, err = run_command("verify_evidence", str(package))
    assert code == 1 and "not signed" in err


def test_the_evidence_page_shows_the_public_key(signing_key, client, auditor):
    client.force_login(auditor)
    page = client.get("/evidence/").content.decode()
    assert signing_key.read_text().splitlines()[1] in page
