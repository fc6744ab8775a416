"""Start the test identity provider on http://localhost:PORT (a host other than Lifeboat's 127.0.0.1, so their
cookies stay apart), with one confidential client for Lifeboat and users in provider groups."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "lifeboat", "lifeboat-test-client-secret"
PASSWORD = "provider-password-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rsa_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass
class Provider:
    url: str
    env: dict[str, str]
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def manage(self, code: str) -> str:
        return subprocess.run([sys.executable, "-m", "django", "shell", "-c", code], env=self.env, cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout

    def set_user(self, username: str, groups: list[str]) -> None:
        """Create or update a provider user and set its provider groups."""
        self.manage("from django.contrib.auth.models import Group, User\n"
                    f"u, _ = User.objects.get_or_create(username={username!r}, "
                    f"defaults={{'email': '{username}@example.test'}})\n"
                    f"u.set_password({PASSWORD!r}); u.save()\n"
                    f"u.groups.set([Group.objects.get_or_create(name=g)[0] for g in {groups!r}])\n")

    def allow_redirect(self, base: str) -> None:
        """Register one more Lifeboat (by its base URL) as a place the client may return to."""
        self.manage("from oauth2_provider.models import Application\n"
                    f"a = Application.objects.get(client_id={CLIENT_ID!r})\n"
                    f"a.redirect_uris += ' {base}/accounts/sso/callback/'\n"
                    f"a.post_logout_redirect_uris += ' {base}/accounts/login/'\n"
                    "a.save()\n")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


def start(workdir: Path, redirect_base: str) -> Provider:
    """Migrate, register Lifeboat (served at redirect_base) as a client, and serve until stop()."""
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
           "IDP_DATABASE": str(workdir / "idp.sqlite3"), "IDP_RSA_KEY": _rsa_key(), "PYTHONPATH": str(ROOT)}
    for key in ("DATABASE_URL",):
        env.pop(key, None)
    provider = Provider(f"http://localhost:{port}", env)
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    provider.manage(
        "from oauth2_provider.models import Application\n"
        f"Application.objects.create(name='Lifeboat', client_id={CLIENT_ID!r}, client_secret={CLIENT_SECRET!r},"
        " client_type='confidential', authorization_grant_type='authorization-code', algorithm='RS256',"
        f" skip_authorization=True, redirect_uris='{redirect_base}/accounts/sso/callback/',"
        f" post_logout_redirect_uris='{redirect_base}/accounts/login/')\n")
    provider.process = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"localhost:{port}", "--noreload"],
        env=env, cwd=ROOT, start_new_session=True, stdout=open(workdir / "idp.log", "wb"),
        stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{provider.issuer}/.well-known/openid-configuration", timeout=2)
            return provider
        except OSError:
            if time.monotonic() > deadline or provider.process.poll() is not None:
                provider.stop()
                raise RuntimeError("the test identity provider did not start:\n"
                                   + (workdir / "idp.log").read_text()[-3000:]) from None
            time.sleep(0.3)


def lifeboat_env(provider: Provider, role_map: str = "idp-dbas=DBA,idp-leads=Team lead,idp-admins=Admin") -> dict:
    """The environment that points a Lifeboat at this provider."""
    return {"LIFEBOAT_OIDC_DISCOVERY_URL": provider.issuer, "LIFEBOAT_OIDC_CLIENT_ID": CLIENT_ID,
            "LIFEBOAT_OIDC_CLIENT_SECRET": CLIENT_SECRET, "LIFEBOAT_OIDC_ROLE_MAP": role_map,
            "LIFEBOAT_OIDC_SIGN_IN_LABEL": "Sign in with Example SSO"}
