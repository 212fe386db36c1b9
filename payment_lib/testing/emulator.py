"""The Stripe test-mode emulator: a threaded HTTP/1.1 server speaking Stripe's v1 API.

``StripeEmulator`` owns the server, the state, idempotency keys, fault plan and webhook
delivery. Requests to ``/v1/...`` go through auth, fault injection and idempotency to the
endpoint functions; ``/3ds/...`` serves the authentication page; ``/_emulator/...`` lets a
test (or a script, for an emulator in another process) steer it over HTTP.
"""

from __future__ import annotations

import json
import threading
import traceback
from types import TracebackType

from payment_lib.testing import charging, control, disputes, parameters, setup_intents, threeds
from payment_lib.testing.errors import UNKNOWN_ERROR, ApiError, invalid, no_such
from payment_lib.testing.faults import Fault, Faults, injected_error
from payment_lib.testing.forms import form_pairs, nest
from payment_lib.testing.idempotency import IdempotencyKeys, StoredResponse
from payment_lib.testing.objects import random_token, request_id
from payment_lib.testing.routes import Route, route, unrecognized
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.transport import Handler, Server, check_key, drop, read_body, write
from payment_lib.testing.webhooks import WebhookDelivery

# The version stripe-python 16.1 pins; answered when a request names none.
DEFAULT_API_VERSION = "2026-10-28.endive"
DEFAULT_API_KEY = "sk_test_emulator_4242"

# Our objects hold no cycles; skipping the check makes encoding noticeably cheaper.
_encode = json.JSONEncoder(check_circular=False).encode


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
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> StripeEmulator:
        """Listen and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        server = Server((self.host, self.requested_port), Handler)
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

    def expire_idempotency_keys(self) -> int:
        """Forget every stored idempotency key, as Stripe does after 24 hours.

        Returns:
            How many keys were forgotten. A request sent again with one of them executes anew.
        """
        return self.idempotency.expire()

    def resend_event(self, event_id: str) -> None:
        """Deliver a recorded event to the webhook endpoint again (the Dashboard's "Resend").

        Raises:
            ApiError: 404 for an event never recorded; 400 when no endpoint is configured.
        """
        if self.store.event_payload(event_id) is None:
            raise no_such("event", event_id)
        if not self.webhooks.enabled:
            raise invalid(
                "No webhook endpoint is configured: start the emulator with a webhook URL "
                "(--webhook-url) or POST /_emulator/webhooks first."
            )
        self.webhooks.resend(event_id)

    def wait_for_in_flight(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` idempotent requests are executing (to set up races)."""
        return self.idempotency.wait_for_running(count, timeout)

    def authenticate(self, intent_id: str, *, success: bool = True) -> None:
        """Complete or fail 3-D Secure for a PaymentIntent (or a SetupIntent, ``seti_...``),
        as the test page would."""
        with self.store.lock:
            kind = "setup_intent" if intent_id.startswith("seti_") else "payment_intent"
            intent = self.store.find(kind, intent_id)
            if intent["status"] != "requires_action":
                raise ValueError(f"{intent_id} is {intent['status']}, not requires_action.")
            if kind == "setup_intent":
                setup_intents.authenticate(self.store, self._page_call(), intent, success=success)
            else:
                charging.authenticate(self.store, self._page_call(), intent, success=success)

    def open_dispute(
        self, charge_or_payment_intent_id: str, *, reason: str = "fraudulent", inquiry: bool = False
    ) -> Obj:
        """Dispute a succeeded charge (given by its id or its PaymentIntent's) as the dispute
        test cards do: ``charge.dispute.created``, then for a chargeback
        ``charge.dispute.funds_withdrawn``; the charge becomes ``disputed``.

        Args:
            charge_or_payment_intent_id: a ``ch_...`` or a succeeded ``pi_...``.
            reason: one of Stripe's dispute reasons.
            inquiry: open an inquiry (``warning_needs_response``, no funds withdrawn).

        Returns:
            A copy of the new Dispute.

        Raises:
            ValueError: for an unknown reason, or a charge that cannot be disputed.
        """
        with self.store.lock:
            dispute = disputes.open_for_test(
                self.store,
                self._page_call(),
                charge_or_payment_intent_id,
                reason=reason,
                inquiry=inquiry,
            )
            copied: Obj = json.loads(json.dumps(dispute))
            return copied

    # Request handling ---------------------------------------------------------------------

    def _page_call(self) -> Call:
        return Call({}, None, None, DEFAULT_API_VERSION, self.url)

    def handle(self, request: Handler, method: str) -> None:
        path, _, query = request.path.partition("?")
        if path.startswith("/v1/"):
            self._api(request, method, path, query)
        elif path.startswith(threeds.PREFIX) and method == "GET":
            read_body(request)  # unread, it would be taken for the next request on the connection
            with self.store.lock:
                answer = threeds.handle(self.store, path, query, self._page_call())
            headers = {"Location": answer.location} if answer.location else {}
            write(request, answer.status, answer.body.encode(), headers, "text/html")
        elif path.startswith(control.PREFIX):
            status, body = control.handle(self, method, path, read_body(request))
            write(request, status, json.dumps(body).encode(), {})
        else:
            read_body(request)
            error = unrecognized(method, path)
            write(request, error.status, error.json(), {"Request-Id": request_id()})

    def _api(self, request: Handler, method: str, path: str, query: str) -> None:
        body = read_body(request)
        version = request.fields.get("stripe-version") or DEFAULT_API_VERSION
        answer = {"Request-Id": request_id(), "Stripe-Version": version}
        try:
            self._serve(request, method, path, body if method == "POST" else query, answer)
        except ApiError as refusal:  # refused before executing: nothing is stored
            write(request, refusal.status, refusal.json(), answer | refusal.headers)

    def _serve(
        self, request: Handler, method: str, path: str, form: bytes | str, answer: dict[str, str]
    ) -> None:
        check_key(request.fields.get("authorization"))
        chosen, ids = route(method, path)
        decision = self.faults.decide(path)
        if decision.fault is Fault.ERROR:
            raise injected_error(decision.error_status)
        if decision.fault is Fault.DROP_CONNECTION:
            drop(request)
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
            drop(request)
            return
        call = Call(
            params, answer["Request-Id"], key, answer["Stripe-Version"], self._base_url(request)
        )
        status, payload = self._execute(chosen, call, ids)
        if key is not None and call.executing:
            self.idempotency.finish(key, StoredResponse(status, payload, answer["Request-Id"]))
        elif key is not None:
            self.idempotency.forget(key)
        self._finish(request, decision.fault, status, payload, answer)

    def _execute(self, chosen: Route, call: Call, ids: list[str]) -> tuple[int, bytes]:
        with self.store.lock:
            try:
                parameters.check(chosen.operation, call.params)
                result = chosen.endpoint(self.store, call, *ids)
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
        self, request: Handler, fault: Fault, status: int, payload: bytes, answer: dict[str, str]
    ) -> None:
        if fault is Fault.DROP_RESPONSE:
            drop(request)
        else:
            write(request, status, payload, answer)

    def _base_url(self, request: Handler) -> str:
        host = request.fields.get("host")
        return f"http://{host}" if host else self.url


__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_VERSION", "StripeEmulator"]
