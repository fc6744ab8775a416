"""A private PostgreSQL cluster that accepts TLS connections only (pg_hba `hostssl`), with its own CA.

Made with initdb (as the postgres user when run as root, like dashboard/demo.py) on a free loopback port, with a
self-signed CA and a server certificate for 127.0.0.1/localhost made by openssl. `wrong_ca` is a second CA that did
not sign the server's certificate, to prove that verify-full really checks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backups.conninfo import ConnectionOptions
from backups.engine import pgtools


@dataclass(frozen=True)
class TlsCluster:
    port: int
    cert_dir: Path  # what LIFEBOAT_PG_CERT_DIR must name
    ca: Path
    wrong_ca: Path

    def dsn(self, dbname: str = "postgres", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"sslmode": "verify-full", "sslrootcert": str(self.ca),
                                                  **options}.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}?{query}"

    def admin(self) -> ConnectionOptions:
        """Superuser options over the unix socket (trusted locally), not through the code under test's TLS."""
        return ConnectionOptions(str(self.cert_dir.parent / "socket"), self.port, "postgres", "postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", str(key), "-out", str(cert))
    return key, cert


def _make_server_cert(directory: Path, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return key, cert


@contextmanager
def tls_cluster() -> Iterator[TlsCluster]:
    root = Path(tempfile.mkdtemp(prefix="lifeboat-tls-"))
    os.chmod(root, 0o755)
    certs, data, sock = root / "certs", root / "data", root / "socket"
    certs.mkdir()
    sock.mkdir()
    ca_key, ca = _make_ca(certs, "ca")
    _, wrong_ca = _make_ca(certs, "wrong-ca")
    server_key, server_cert = _make_server_cert(certs, ca_key, ca)
    initdb = Path(pgtools.pg_binary("initdb"))
    pg_ctl = str(initdb.with_name("pg_ctl"))
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")  # the server writes its log here
        shutil.chown(sock, "postgres", "postgres")
        data.mkdir(mode=0o700)
        shutil.chown(data, "postgres", "postgres")
    started = False
    try:
        subprocess.run(_as_postgres([str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust",
                                     "--encoding=UTF8"]), check=True, capture_output=True)
        for source in (server_key, server_cert):
            shutil.copy(source, data / source.name)
            os.chmod(data / source.name, 0o600)
            if os.geteuid() == 0:
                shutil.chown(data / source.name, "postgres", "postgres")
        (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sock}'\n"
                       "ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n"
                       "max_connections = 30\nshared_buffers = 16MB\nfsync = off\n")
        started = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w",
                                               "start"]), capture_output=True).returncode == 0
        if not started:
            log = root / "server.log"
            raise RuntimeError(f"the TLS cluster did not start: {log.read_text() if log.exists() else 'no log'}")
        yield TlsCluster(port=port, cert_dir=certs, ca=ca, wrong_ca=wrong_ca)
    finally:
        if started:
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
