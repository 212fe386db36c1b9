"""The emulator's HTTP/1.1 plumbing: a lean request parser, the threaded server, API keys
checked as Stripe checks them, and answers written (or withheld, for a dropped connection).

The server hands every request to its ``Handles`` (the emulator) with the method; nothing
here knows what the paths mean.
"""

from __future__ import annotations

import base64
import binascii
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from payment_lib.testing.errors import ApiError

_MAX_HEADERS = 100
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_KEY_PREFIX = re.compile(r"^(?:sk|rk|pk)_(?:test|live)_")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


class Handles(Protocol):
    """What serves the requests: the emulator."""

    def handle(self, request: Handler, method: str) -> None: ...


def check_key(authorization: str | None) -> None:
    """Pass a test-mode key; raise the 401 Stripe answers otherwise."""
    if not authorization:
        raise _unauthorized(_NO_KEY)
    scheme, _, credentials = authorization.partition(" ")
    key = credentials.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    elif scheme.lower() != "bearer":
        raise _unauthorized(_NO_KEY)
    if key.startswith(("sk_test_", "rk_test_")) and len(key) > len("sk_test_"):
        return
    prefix_match = _KEY_PREFIX.match(key)
    prefix = prefix_match.group(0) if prefix_match else ""
    raise _unauthorized(f"Invalid API Key provided: {prefix}****{key[-4:]}")


def _unauthorized(message: str) -> ApiError:
    error = ApiError(401, message)
    error.headers["WWW-Authenticate"] = 'Bearer realm="Stripe"'
    return error


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Handles


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server
    raw_requestline: bytes
    fields: dict[str, str]

    def parse_request(self) -> bool:
        """A lean parser for the request line and headers (lowercased into ``fields``).

        The standard one builds an email.message.Message per request, which costs more than
        the emulator's own work on a PaymentIntent.
        """
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split(" ")
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.0"
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        fields: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = str(line, "iso-8859-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        else:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        self.fields = fields
        connection = fields.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if fields.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def do_GET(self) -> None:
        self.server.emulator.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.emulator.handle(self, "POST")

    def do_DELETE(self) -> None:
        self.server.emulator.handle(self, "DELETE")

    def do_PUT(self) -> None:
        """Stripe's v1 API has no PUT or PATCH: they reach the router, which answers 404."""
        self.server.emulator.handle(self, self.command)

    do_PATCH = do_PUT

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: per-request logging would halve the throughput."""


def read_body(request: Handler) -> bytes:
    length = request.fields.get("content-length", "0")
    if not length.isdigit():
        request.close_connection = True  # cannot tell where this request ends
        return b""
    return request.rfile.read(int(length)) if length != "0" else b""


def write(
    request: Handler,
    status: int,
    body: bytes,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> None:
    lines = [
        f"HTTP/1.1 {status} {_PHRASES[status]}",
        f"Content-Type: {content_type}; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-cache, no-store",
    ]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if request.close_connection:
        lines.append("Connection: close")
    try:
        request.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    except OSError:
        request.close_connection = True  # the client left (it timed out, say)


def drop(request: Handler) -> None:
    """Close the connection without answering: the client sees a network error."""
    request.close_connection = True
