"""The Stripe test-mode emulator: a threaded HTTP/1.1 server speaking Stripe's v1 API.

``StripeEmulator`` owns the server, the state, idempotency keys, fault plan and webhook
delivery. Requests to ``/v1/...`` go through auth, fault injection and idempotency to the
endpoint functions; ``/3ds/...`` serves the authentication page; ``/_emulator/...`` lets a
test (or a script, for an emulator in another process) steer it over HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from payment_lib.testing import control, customers, lists, payments, refunds, threeds
from payment_lib.testing.errors import UNKNOWN_ERROR, ApiError, invalid
from payment_lib.testing.faults import Fault, Faults, injected_error
from payment_lib.testing.forms import form_pairs, nest
from payment_lib.testing.idempotency import IdempotencyKeys, StoredResponse
from payment_lib.testing.objects import random_token, request_id
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.webhooks import WebhookDelivery

# The version stripe-python 16.1 pins; answered when a request names none.
DEFAULT_API_VERSION = "2026-10-28.endive"
DEFAULT_API_KEY = "sk_test_emulator_4242"

Endpoint = Callable[..., Obj]

# (method, resource, with id?, action) -> endpoint
ROUTES: dict[tuple[str, str, bool, str | None], Endpoint] = {
    ("POST", "payment_methods", False, None): customers.create_payment_method,
    ("GET", "payment_methods", False, None): customers.list_payment_methods,
    ("GET", "payment_methods", True, None): customers.retrieve_payment_method,
    ("POST", "payment_methods", True, "attach"): customers.attach_payment_method,
    ("POST", "payment_methods", True, "detach"): customers.detach_payment_method,
    ("POST", "customers", False, None): customers.create_customer,
    ("GET", "customers", False, None): customers.list_customers,
    ("GET", "customers", True, None): customers.retrieve_customer,
    ("POST", "customers", True, None): customers.update_customer,
    ("GET", "customers", True, "payment_methods"): customers.list_customer_payment_methods,
    ("POST", "payment_intents", False, None): payments.create_payment_intent,
    ("GET", "payment_intents", False, None): payments.list_payment_intents,
    ("GET", "payment_intents", True, None): payments.retrieve_payment_intent,
    ("POST", "payment_intents", True, None): payments.update_payment_intent,
    ("POST", "payment_intents", True, "confirm"): payments.confirm_payment_intent,
    ("POST", "payment_intents", True, "cancel"): payments.cancel_payment_intent,
    ("POST", "payment_intents", True, "capture"): payments.capture_payment_intent,
    ("GET", "charges", False, None): payments.list_charges,
    ("GET", "charges", True, None): payments.retrieve_charge,
    ("POST", "refunds", False, None): refunds.create_refund,
    ("GET", "refunds", False, None): refunds.list_refunds,
    ("GET", "refunds", True, None): refunds.retrieve_refund,
    ("GET", "events", False, None): lists.list_events,
    ("GET", "events", True, None): lists.retrieve_event,
}

_MAX_HEADERS = 100
# Our objects hold no cycles; skipping the check makes encoding noticeably cheaper.
_encode = json.JSONEncoder(check_circular=False).encode
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_KEY_PREFIX = re.compile(r"^(?:sk|rk|pk)_(?:test|live)_")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


class StripeEmulator:
    """Stripe's test mode on a local port, for the real SDK to talk to.

    Example:
        with StripeEmulator() as emulator:
            client = stripe.StripeClient(
                emulator.api_key, base_addresses={"api": emulator.url}
            )
            client.v1.payment_intents.create(params={...})

    Args:
        host: interface to listen on.
        port: port to listen on; 0 picks a free one.
        webhook_url: deliver every event to this URL (optional).
        webhook_secret: ``whsec_...`` secret to sign deliveries with (generated if omitted).
        webhook_retry_delays: seconds before each retry of a failed delivery.
        api_key: the key ``api_key`` hands out; any ``sk_test_``/``rk_test_`` key is accepted.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_retry_delays: tuple[float, ...] | None = None,
        api_key: str = DEFAULT_API_KEY,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.api_key = api_key
        self.faults = Faults()
        self.idempotency = IdempotencyKeys()
        self.store = Store()
        self.webhooks = WebhookDelivery(self.store.event_payload)
        self.store.webhooks = self.webhooks
        self._initial_webhooks = (webhook_url, webhook_secret, webhook_retry_delays)
        self._configure_initial_webhooks()
        self._generation = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> StripeEmulator:
        """Listen and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.requested_port), _Handler)
        server.emulator = self
        self.webhooks.start()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="stripe-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (requests still hanging are cut short)."""
        self.faults.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.webhooks.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``shutdown`` (used by the CLI)."""
        self.start()
        assert self._thread is not None
        self._thread.join()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The emulator is not running; call start() first.")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for ``base_addresses={"api": url}`` (the SDK appends ``/v1/...``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def webhook_url(self) -> str | None:
        """Where events are delivered (None: recorded only)."""
        return self.webhooks.url

    @property
    def webhook_secret(self) -> str | None:
        """The ``whsec_...`` secret deliveries are signed with (the first, during a rotation)."""
        return self.webhooks.secrets[0] if self.webhooks.secrets else None

    def reset(self) -> None:
        """Forget all objects, events, idempotency keys, faults and webhook settings
        (back to the constructor's webhook options)."""
        with self.store.lock:
            self._generation += 1
            self.faults.clear()
            self.store.clear()
            self.idempotency.clear()
            self.webhooks.reset()
            self._configure_initial_webhooks()

    def _configure_initial_webhooks(self) -> None:
        url, secret, delays = self._initial_webhooks
        if url is not None:
            self.webhooks.configure(
                url=url, secret=secret or f"whsec_{random_token(32)}", retry_delays=delays
            )

    # Inspection ---------------------------------------------------------------------------

    def objects(self, kind: str) -> list[Obj]:
        """Copies of every object of a kind ("payment_intent", "charge", "refund", ...)."""
        with self.store.lock:
            return json.loads(json.dumps(self.store.of_kind(kind)))  # type: ignore[no-any-return]

    def count(self, kind: str) -> int:
        """How many objects of a kind exist, e.g. ``count("payment_intent")``."""
        return len(self.store.of_kind(kind))

    def get(self, object_id: str) -> Obj | None:
        """A copy of one object by id."""
        with self.store.lock:
            found = self.store.objects.get(object_id)
            copied: Obj | None = json.loads(json.dumps(found)) if found else None
            return copied

    def events(self, event_type: str | None = None) -> list[Obj]:
        """Recorded events, oldest first, optionally of one type."""
        with self.store.lock:
            return [
                json.loads(event.payload)
                for event in self.store.events
                if event_type is None or event.type == event_type
            ]

    def wait_for_in_flight(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` idempotent requests are executing (to set up races)."""
        return self.idempotency.wait_for_running(count, timeout)

    def authenticate(self, intent_id: str, *, success: bool = True) -> None:
        """Complete or fail 3-D Secure for a PaymentIntent, as the test page would."""
        with self.store.lock:
            intent = self.store.find("payment_intent", intent_id)
            if intent["status"] != "requires_action":
                raise ValueError(f"{intent_id} is {intent['status']}, not requires_action.")
            payments.authenticate(self.store, self._page_call(), intent, success=success)

    # Request handling ---------------------------------------------------------------------

    def _page_call(self) -> Call:
        return Call({}, None, None, DEFAULT_API_VERSION, self.url)

    def handle(self, request: _Handler, method: str) -> None:
        path, _, query = request.path.partition("?")
        if path.startswith("/v1/"):
            self._api(request, method, path, query)
        elif path.startswith(threeds.PREFIX) and method == "GET":
            with self.store.lock:
                answer = threeds.handle(self.store, path, query, self._page_call())
            headers = {"Location": answer.location} if answer.location else {}
            _write(request, answer.status, answer.body.encode(), headers, "text/html")
        elif path.startswith(control.PREFIX):
            status, body = control.handle(self, method, path, _read_body(request))
            _write(request, status, json.dumps(body).encode(), {})
        else:
            error = _unrecognized(method, path)
            _write(request, error.status, error.json(), {"Request-Id": request_id()})

    def _api(self, request: _Handler, method: str, path: str, query: str) -> None:
        body = _read_body(request)
        version = request.fields.get("stripe-version") or DEFAULT_API_VERSION
        answer = {"Request-Id": request_id(), "Stripe-Version": version}
        try:
            self._serve(request, method, path, body if method == "POST" else query, answer)
        except ApiError as refusal:  # refused before executing: nothing is stored
            _write(request, refusal.status, refusal.json(), answer | refusal.headers)

    def _serve(
        self, request: _Handler, method: str, path: str, form: bytes | str, answer: dict[str, str]
    ) -> None:
        _check_key(request.fields.get("authorization"))
        endpoint, ids = _route(method, path)
        decision = self.faults.decide(path)
        if decision.fault is Fault.ERROR:
            raise injected_error(decision.error_status)
        if decision.fault is Fault.DROP_CONNECTION:
            _drop(request)
            return
        try:
            pairs = form_pairs(form.decode() if isinstance(form, bytes) else form)
            params = nest(pairs)
        except (ValueError, UnicodeDecodeError) as problem:
            raise invalid(str(problem)) from None
        key = request.fields.get("idempotency-key") if method == "POST" else None
        if key is not None:
            answer["Idempotency-Key"] = key
            stored = self.idempotency.begin(key, (method, path, tuple(sorted(pairs))))
            if stored is not None:
                answer |= {"Idempotent-Replayed": "true", "Original-Request": stored.request_id}
                self._finish(request, decision.fault, stored.status, stored.body, answer)
                return
        generation = self._generation
        pause = decision.hang if decision.fault is Fault.HANG else decision.latency
        if not self.faults.pause(pause) and generation != self._generation:
            if key is not None:  # the emulator was reset while this request hung
                self.idempotency.forget(key)
            _drop(request)
            return
        call = Call(
            params, answer["Request-Id"], key, answer["Stripe-Version"], self._base_url(request)
        )
        status, payload = self._execute(endpoint, call, ids)
        if key is not None and call.executing:
            self.idempotency.finish(key, StoredResponse(status, payload, answer["Request-Id"]))
        elif key is not None:
            self.idempotency.forget(key)
        self._finish(request, decision.fault, status, payload, answer)

    def _execute(self, endpoint: Endpoint, call: Call, ids: list[str]) -> tuple[int, bytes]:
        with self.store.lock:
            try:
                result = endpoint(self.store, call, *ids)
                expand = call.params.get("expand")
                if expand:
                    result = self.store.expanded(result, expand)
                status, payload = 200, _encode(result).encode()
            except ApiError as error:
                status, payload = error.status, error.json()
            except Exception:  # a bug in the emulator: answer as Stripe's 500 would
                traceback.print_exc()
                status, payload = 500, UNKNOWN_ERROR.json()
            for hook in call.after_response:
                hook()
        return status, payload

    def _finish(
        self, request: _Handler, fault: Fault, status: int, payload: bytes, answer: dict[str, str]
    ) -> None:
        if fault is Fault.DROP_RESPONSE:
            _drop(request)
        else:
            _write(request, status, payload, answer)

    def _base_url(self, request: _Handler) -> str:
        host = request.fields.get("host")
        return f"http://{host}" if host else self.url


def _route(method: str, path: str) -> tuple[Endpoint, list[str]]:
    """The endpoint for ``/v1/<resource>[/<id>[/<action>]]`` and the id, or a 404."""
    segments = path[len("/v1/") :].split("/")
    if len(segments) <= 3 and all(segments):
        action = segments[2] if len(segments) == 3 else None
        endpoint = ROUTES.get((method, segments[0], len(segments) > 1, action))
        if endpoint is not None:
            return endpoint, segments[1:2]
    raise _unrecognized(method, path)


def _unrecognized(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )


def _check_key(authorization: str | None) -> None:
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: StripeEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
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

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: per-request logging would halve the throughput."""


def _read_body(request: _Handler) -> bytes:
    length = request.fields.get("content-length", "0")
    if not length.isdigit():
        request.close_connection = True  # cannot tell where this request ends
        return b""
    return request.rfile.read(int(length)) if length != "0" else b""


def _write(
    request: _Handler,
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


def _drop(request: _Handler) -> None:
    """Close the connection without answering: the client sees a network error."""
    request.close_connection = True


__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_VERSION", "StripeEmulator"]
