"""The example host application served for real by uvicorn on a free loopback port, with
three callers in its token table: two customers and an admin."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from payment_lib import Payments, Settings

uvicorn = pytest.importorskip("uvicorn", reason="pip install -e '.[example]' for the host app")

from docs.examples.host_app import create_app  # noqa: E402
from docs.examples.host_auth import TokenTable  # noqa: E402

# Tokens as a client sends them; the table holds only their SHA-256.
ALICE, BOB, ADA = "tok_alice_0123456789abcdef", "tok_bob_0123456789abcdef", "tok_ada_0123456789ab"
USERS = {ALICE: str(uuid.uuid4()), BOB: str(uuid.uuid4()), ADA: str(uuid.uuid4())}
TOKEN_ENTRIES = [
    {"sha256": hashlib.sha256(ALICE.encode()).hexdigest(), "user_id": USERS[ALICE]},
    {"sha256": hashlib.sha256(BOB.encode()).hexdigest(), "user_id": USERS[BOB], "roles": []},
    {
        "sha256": hashlib.sha256(ADA.encode()).hexdigest(),
        "user_id": USERS[ADA],
        "roles": ["admin"],
        "name": "ada@support",
    },
]


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
    payments: Payments

    def request(self, method, path, body=None, headers=None, raw=None, token=ALICE):
        """Send as the caller holding ``token`` (None: no Authorization header)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = (
                raw
                if raw is not None
                else (json.dumps(body).encode() if body is not None else None)
            )
            sent = {"Content-Type": "application/json"}
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            sent.update(headers or {})
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return Response(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(payments, authenticate=None) -> Iterator[HostApp]:
    """Serve the app over ``payments`` with uvicorn in a thread until the test ends."""
    app = create_app(payments, authenticate or TokenTable.from_entries(TOKEN_ENTRIES))
    yield from serve(app, payments)


def serve(app, payments=None, **options) -> Iterator[HostApp]:
    """Run uvicorn (``options``: its Config's) on a free loopback port until the test ends."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield HostApp(port, payments)
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


def _app_over(database_url, stripe_target, authenticate=None) -> Iterator[HostApp]:
    settings = Settings(
        database_url=database_url,
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_retry_backoff_seconds=0.01,
    )
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
        yield from _serve(payments, authenticate)


@pytest.fixture
def unmigrated_app(empty_database_url, stripe_target) -> Iterator[HostApp]:
    """The app over a database nobody has migrated yet (``payment-cli db upgrade`` not run)."""
    yield from _app_over(empty_database_url, stripe_target)


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_app(request, tmp_path, stripe_target) -> Iterator[HostApp]:
    """The app over a database that cannot be reached."""
    url = {
        "postgresql": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/payments",
        "sqlite": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'payments.db'}",
    }[request.param]
    yield from _app_over(url, stripe_target)


@pytest.fixture
def broken_auth_app(database_url, stripe_target) -> Iterator[HostApp]:
    """The app whose authenticate callback fails unexpectedly (a bug, an identity provider
    down): the app's own 500."""

    def authenticate(token: str):
        raise RuntimeError(f"identity provider exploded on {token}")

    yield from _app_over(database_url, stripe_target, authenticate)
