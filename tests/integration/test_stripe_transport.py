"""How the gateway's HTTP session treats the process environment (``stripe_gateway/transport``).

requests re-reads the proxy variables and ~/.netrc on every request unless told not to: about
250 us of CPU per Stripe call here (the whole environment scanned for ``*_proxy``), and a
``.netrc`` entry for the API host replaces the API key with its login. The gateway reads the
proxy settings once, for its API host, and never reads ``.netrc``.
"""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from payment_lib import Settings
from payment_lib.stripe_gateway import StripeGateway


def gateway(stripe_target) -> StripeGateway:
    settings = Settings(
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_retry_backoff_seconds=0.01,
    )
    return StripeGateway.from_settings(settings)


def a_customer(gateway: StripeGateway) -> str:
    return gateway.create_customer(user_id=str(uuid.uuid4()), idempotency_key=str(uuid.uuid4()))


class Proxy(ThreadingHTTPServer):
    """A forwarding HTTP proxy on loopback that remembers the URLs it forwarded."""

    daemon_threads = True
    forwarded: list[str]


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def do_POST(self) -> None:
        self.server.forwarded.append(self.path)
        target = urlsplit(self.path)  # a proxy is sent the absolute URL
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        upstream = http.client.HTTPConnection(target.netloc, timeout=10)
        upstream.request("POST", target.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy(("127.0.0.1", 0), _Forward)
    server.forwarded = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def on_the_emulator(stripe_target):
    if not stripe_target.api_base.startswith("http://127.0.0.1"):
        pytest.skip("needs the emulator on loopback (a plain-HTTP proxy cannot reach Stripe)")
    return stripe_target


def test_a_netrc_entry_for_the_api_host_does_not_replace_the_key(
    stripe_target, tmp_path, monkeypatch
):
    host = urlsplit(stripe_target.api_base).hostname
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine {host} login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))

    assert a_customer(gateway(stripe_target)).startswith("cus_")


def test_the_proxy_set_when_the_gateway_is_made_is_used(on_the_emulator, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    made = gateway(on_the_emulator)
    monkeypatch.delenv("HTTP_PROXY")  # read once, when the gateway was made

    assert a_customer(made).startswith("cus_")
    assert [urlsplit(url).path for url in proxy.forwarded] == ["/v1/customers"]


def test_no_proxy_for_the_api_host_is_honoured(on_the_emulator, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    assert a_customer(gateway(on_the_emulator)).startswith("cus_")
    assert proxy.forwarded == []
