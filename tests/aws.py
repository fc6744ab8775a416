"""AWS fixtures: dummy credentials set only inside fixtures, moto in-process or as a threaded server on loopback.

Import the fixtures a module needs (`from tests.aws import aws_env, moto_s3, s3_tier  # noqa: F401`).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import boto3
import botocore.handlers
import pytest
from botocore.exceptions import ConnectionClosedError

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def aws_env(monkeypatch, settings):
    """Dummy credentials through the standard chain (environment), no shared config, quick retries."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.LIFEBOAT_AWS_MAX_ATTEMPTS = 2
    settings.LIFEBOAT_S3_BACKOFF_SECONDS = 0
    settings.LIFEBOAT_AWS_TIMEOUT_SECONDS = 5


@pytest.fixture
def moto_s3(aws_env) -> Iterator[boto3.client]:
    """moto in-process with one versioned bucket; yields a client for assertions."""
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        yield client


def make_bucket(client, versioned: bool = True) -> str:
    name = f"lifeboat-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def s3_tier(db, moto_s3):
    """An S3 tier with the plan's declared policy, on a fresh versioned bucket."""
    from backups.models import RetentionPolicy, Tier

    tier = Tier.objects.create(
        name=f"s3-{uuid.uuid4().hex[:6]}", kind=Tier.Kind.S3, bucket=make_bucket(moto_s3), prefix="backups/",
        region=REGION, storage_class="STANDARD_IA", glacier_after_days=30, expire_after_days=90,
        noncurrent_expire_days=7, archive_prefix="archive/monthly/", position=5)
    RetentionPolicy.objects.create(tier=tier, keep_days=90, keep_last=3, monthly_forever=True)
    return tier


@pytest.fixture
def moto_server(aws_env) -> Iterator[str]:
    """A real HTTP S3/RDS endpoint (moto's ThreadedMotoServer) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class S3Outage:
    """Fails chosen S3 operations as a dropped connection would, in every boto3 session made while installed.

    It hooks botocore's `before-send` (the last step before the HTTP request), like moto itself, so botocore's
    retries, s3transfer's abort and Lifeboat's own retries all run for real.
    """

    def __init__(self, operations: set[str], after: int = 0, limit: int | None = None) -> None:
        self.operations = operations
        self.after = after  # let this many matching requests through first (the outage starts mid-upload)
        self.limit = limit  # the outage ends after this many failures (None: it never ends)
        self.seen = 0
        self.failed = 0

    def __call__(self, request, **kwargs):
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        if operation in self.operations:
            self.seen += 1
            if self.seen > self.after and (self.limit is None or self.failed < self.limit):
                self.failed += 1
                raise ConnectionClosedError(endpoint_url=request.url)
        return None


@pytest.fixture
def s3_outage(monkeypatch):
    def install(operations: set[str], after: int = 0, limit: int | None = None) -> S3Outage:
        outage = S3Outage(operations, after, limit)
        handlers = [(f"before-send.s3.{op}", outage) for op in operations]
        monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers + list(botocore.handlers.BUILTIN_HANDLERS))
        return outage

    return install


class TcpProxy:
    """A TCP proxy on loopback in front of a real endpoint: `cut()` drops every connection and refuses new ones
    (the network is down), `resume()` lets them through again. Whatever goes through it is real HTTP."""

    def __init__(self, upstream_port: int) -> None:
        import threading

        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True, name="tcp-proxy")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open.clear()

    def resume(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()
