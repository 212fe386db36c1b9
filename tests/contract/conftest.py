"""The example host application served for real by uvicorn on a free loopback port."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from payment_lib import Payments

uvicorn = pytest.importorskip("uvicorn", reason="pip install -e '.[example]' for the host app")

from docs.examples.host_app import create_app  # noqa: E402


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class HostApp:
    port: int

    def request(self, method, path, body=None, headers=None, raw=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = (
                raw
                if raw is not None
                else (json.dumps(body).encode() if body is not None else None)
            )
            sent = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return Response(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(payments) -> Iterator[HostApp]:
    """Serve the app over ``payments`` with uvicorn in a thread until the test ends."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(payments), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield HostApp(port)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def host_app(payments) -> Iterator[HostApp]:
    payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )
    yield from _serve(payments)


@pytest.fixture
def webhook_app(settings) -> Iterator[HostApp]:
    """The app with a webhook signing secret configured."""
    secret = (SecretStr("whsec_contract_test_secret"),)
    with Payments.from_settings(
        settings.model_copy(update={"webhook_secrets": secret}), registry=CollectorRegistry()
    ) as payments:
        yield from _serve(payments)
