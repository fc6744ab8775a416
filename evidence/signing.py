"""Signing evidence packages with minisign (py-minisign), so an auditor can check one without trusting Lifeboat:
`minisign -Vm SHA256SUMS.txt -p lifeboat.pub` with the stock tool, or `manage.py verify_evidence FILE.zip`.

The secret key is read from LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE (made with `minisign -G -W`: no password, the file
kept readable only by Lifeboat). SHA256SUMS.txt names every file of the package with its SHA-256, so signing it
signs them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import minisign
from django.conf import settings

SIGNATURE_NAME = "SHA256SUMS.txt.minisig"
SUMS_NAME = "SHA256SUMS.txt"


@dataclass(frozen=True)
class SigningKey:
    secret: minisign.SecretKey | None
    why_not: str = ""  # when there is no key: the omission's reason

    @property
    def public_base64(self) -> str:
        return self.secret.get_public_key().to_base64().decode() if self.secret else ""


def signing_key() -> SigningKey:
    path = settings.LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE
    if not path:
        return SigningKey(None, "LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE is not set: the package is not signed")
    try:
        secret = minisign.SecretKey.from_file(path)
    except (OSError, minisign.Error) as exc:
        return SigningKey(None, f"the signing key {path} cannot be read ({exc}): the package is not signed")
    if secret.is_encrypted():
        return SigningKey(None, f"the signing key {path} is password-protected; make one with `minisign -G -W`: "
                                "the package is not signed")
    return SigningKey(secret)


def sign(key: SigningKey, sums: bytes, comment: str) -> bytes:
    return bytes(key.secret.sign(sums, trusted_comment=comment[:minisign.TRUSTED_COMMENT_MAX_LEN]))


def public_key_file_text(key: SigningKey) -> str:
    """What `minisign -p FILE` reads: the evidence page and the README show it."""
    return f"untrusted comment: Lifeboat evidence public key\n{key.public_base64}\n" if key.secret else ""


def load_public_key(path: Path | None) -> minisign.PublicKey | None:
    """The public key to check with: a file given, else the one of the configured signing key."""
    if path is not None:
        return minisign.PublicKey.from_file(str(path))
    key = signing_key()
    return key.secret.get_public_key() if key.secret else None


def signature_problem(public: minisign.PublicKey, sums: bytes, signature: bytes) -> str:
    try:
        public.verify(sums, minisign.Signature.from_bytes(signature))
    except (minisign.Error, ValueError) as exc:
        return f"{SIGNATURE_NAME} does not verify {SUMS_NAME} with this public key ({exc})"
    return ""
