"""Check an evidence package as an auditor would: its signature, every file's SHA-256, and its manifest."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import minisign

from core.hashing import sha256_of
from evidence.signing import SIGNATURE_NAME, SUMS_NAME, signature_problem


@dataclass
class PackageCheck:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    signed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_sums(text: str) -> dict[str, str]:
    """GNU coreutils lines `<sha256>  <name>`."""
    sums = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if name:
            sums[name] = digest
    return sums


def verify_package(path: Path, public: minisign.PublicKey | None) -> PackageCheck:
    check = PackageCheck()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        check.problems.append(f"{path} is not a readable zip file: {exc}")
        return check
    with archive:
        names = set(archive.namelist())
        if SUMS_NAME not in names:
            check.problems.append(f"{SUMS_NAME} is missing: nothing to check the files against")
            return check
        raw_sums = archive.read(SUMS_NAME)
        _check_signature(check, archive, names, raw_sums, public)
        sums = parse_sums(raw_sums.decode("utf-8", errors="replace"))
        _check_files(check, archive, names, sums)
        _check_manifest(check, archive, sums)
    return check


def _check_signature(check: PackageCheck, archive: zipfile.ZipFile, names: set[str], sums: bytes,
                     public: minisign.PublicKey | None) -> None:
    if SIGNATURE_NAME not in names:
        check.problems.append(f"the package is not signed ({SIGNATURE_NAME} is missing)")
    elif public is None:
        check.problems.append("no public key to check the signature with: pass --public-key lifeboat.pub")
    else:
        problem = signature_problem(public, sums, archive.read(SIGNATURE_NAME))
        if problem:
            check.problems.append(problem)
        else:
            check.signed = True


def _check_files(check: PackageCheck, archive: zipfile.ZipFile, names: set[str], sums: dict[str, str]) -> None:
    for name, expected in sums.items():
        if name not in names:
            check.problems.append(f"{name} is listed in {SUMS_NAME} but missing from the package")
            continue
        with archive.open(name) as fh:
            _, actual = sha256_of(fh)
        if actual != expected:
            check.problems.append(f"{name}: its SHA-256 is {actual}, {SUMS_NAME} says {expected}")
        else:
            check.checked.append(name)
    for name in sorted(names - set(sums) - {SUMS_NAME, SIGNATURE_NAME}):
        check.problems.append(f"{name} is in the package but not listed in {SUMS_NAME}")


def _check_manifest(check: PackageCheck, archive: zipfile.ZipFile, sums: dict[str, str]) -> None:
    if "manifest.json" not in sums:
        check.problems.append(f"manifest.json is not listed in {SUMS_NAME}")
        return
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError) as exc:
        check.problems.append(f"manifest.json cannot be read: {exc}")
        return
    for entry in manifest.get("files", []):
        if sums.get(entry.get("name")) != entry.get("sha256"):
            check.problems.append(f"manifest.json names {entry.get('name')} with SHA-256 {entry.get('sha256')}, "
                                  f"{SUMS_NAME} says {sums.get(entry.get('name'))}")
