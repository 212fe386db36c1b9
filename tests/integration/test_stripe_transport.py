"""The gateway's HTTP transport (``stripe_gateway/transport``): what it reads from the process
environment, and what it does with what a server answers.

requests re-reads the proxy variables and ~/.netrc on every request unless told not to: about
250 us of CPU per Stripe call here (the whole environment scanned for ``*_proxy``), and a
``.netrc`` entry for the API host replaces the API key with its login. The gateway reads the
proxy settings once, for its API host, and never reads ``.netrc``. It never follows a
redirect (a POST is sent once, to the API host), trusts only the SDK's certificate bundle, and
gives up on a server that does not answer within the timeout.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from payment_lib import Settings
from payment_lib.domain.errors import ConfigurationError, PaymentError, ProviderUnavailable
from payment_lib.stripe_gateway import StripeGateway


def gateway(stripe_target) -> StripeGateway:
    return a_gateway(stripe_target.api_key, stripe_target.api_base)


def a_gateway(api_key: str, api_base: str, timeout: float = 30) -> StripeGateway:
    settings = Settings(
        stripe_api_key=api_key,
        stripe_api_base=api_base,
        stripe_retry_backoff_seconds=0.01,
        stripe_timeout_seconds=timeout,
    )
    return StripeGateway.from_settings(settings)


def to_our_server(server: ThreadingHTTPServer, scheme: str = "http", timeout: float = 30):
    """A gateway sending to a server of this module, with a made-up key (never a real one)."""
    return a_gateway("sk_test_transport", f"{scheme}://127.0.0.1:{server.server_port}", timeout)


def a_customer(gateway: StripeGateway) -> str:
    return gateway.create_customer(user_id=str(uuid.uuid4()), idempotency_key=str(uuid.uuid4()))


class Proxy(ThreadingHTTPServer):
    """A forwarding HTTP proxy on loopback that remembers the URLs it forwarded."""

    daemon_threads = True
    forwarded: list[str]
    credentials: list[str | None]


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def do_POST(self) -> None:
        self.server.forwarded.append(self.path)
        self.server.credentials.append(self.headers.get("Proxy-Authorization"))
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
    server.credentials = []
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


def test_credentials_in_the_proxy_url_are_sent_to_the_proxy(on_the_emulator, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://ops:p%40ss@127.0.0.1:{proxy.server_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert a_customer(gateway(on_the_emulator)).startswith("cus_")
    assert proxy.credentials == ["Basic " + base64.b64encode(b"ops:p@ss").decode()]


def test_a_proxy_that_is_not_http_is_refused_when_the_gateway_is_made(stripe_target, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "socks5://ops:secret@127.0.0.1:1080")
    monkeypatch.setenv("HTTP_PROXY", "socks5://ops:secret@127.0.0.1:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    with pytest.raises(
        ConfigurationError, match=r"\(socks5://\.\.\.\) is not supported"
    ) as refused:
        gateway(stripe_target)
    assert "secret" not in str(refused.value)


def test_no_proxy_for_the_api_host_is_honoured(on_the_emulator, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    assert a_customer(gateway(on_the_emulator)).startswith("cus_")
    assert proxy.forwarded == []


# A server of our own on loopback, answering as each test needs ---------------------------------


class Server(ThreadingHTTPServer):
    """Answers every request with ``answer(handler)``; remembers each request's path."""

    daemon_threads = True
    seen: list[str]


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(self.path)
        self.server.answer(self)  # type: ignore[attr-defined]

    def log_message(self, *_args: object) -> None:
        pass


def serving(answer, *, tls: ssl.SSLContext | None = None) -> Server:
    server = Server(("127.0.0.1", 0), _Answer)
    server.seen = []
    server.answer = answer  # type: ignore[attr-defined]
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: Server) -> None:
    server.shutdown()
    server.server_close()


def redirect_elsewhere(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(307)
    handler.send_header("Location", "/v1/elsewhere")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def test_a_redirect_is_not_followed():
    """Stripe's API never redirects. Following one would send the payment, its key and the API
    key somewhere else (a 307 repeats the POST): the answer is an error, and nothing more is
    sent."""
    server = serving(redirect_elsewhere)
    try:
        with pytest.raises(PaymentError):
            a_customer(to_our_server(server))
        assert server.seen == ["/v1/customers"]
    finally:
        stop(server)


def test_a_server_that_does_not_answer_in_time_is_given_up():
    """The read timeout holds: each attempt ends after the timeout, the retries too (three
    attempts, the same key), then ProviderUnavailable."""

    def silent(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(10)  # without the timeout, three attempts would take 30 s

    server = serving(silent)
    try:
        made = to_our_server(server, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            a_customer(made)
        assert time.monotonic() - started < 8  # 3 x 0.3 s, with room for a loaded machine
        assert server.seen == ["/v1/customers"] * 3
    finally:
        stop(server)


SELF_SIGNED = (
    "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
    "-addext subjectAltName=IP:127.0.0.1"
)


@pytest.fixture
def untrusted_tls(tmp_path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 (openssl's CLI)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [*SELF_SIGNED.split(), "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_a_certificate_outside_the_sdks_bundle_is_refused(untrusted_tls):
    """Only the certificates in the SDK's bundle are trusted: a server with any other one is
    never sent the request (nor the API key)."""

    def created(handler: BaseHTTPRequestHandler) -> None:
        body = b'{"id": "cus_1", "object": "customer"}'
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server = serving(created, tls=untrusted_tls)
    try:
        with pytest.raises(PaymentError):
            a_customer(to_our_server(server, "https"))
        assert server.seen == []
    finally:
        stop(server)
