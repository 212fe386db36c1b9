"""Shared by the webhook, notification and worker tests: a real SMTP server on loopback,
signed payloads, settings with webhook secrets, and a way to lose Stripe's answers."""

from __future__ import annotations

import contextlib
import email
import email.policy
import http.server
import json
import random
import socket
import string
import threading
import time
import uuid
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from pgbouncer import pooler_for

from payment_lib import InvalidRequest, InvalidSignature, Settings
from payment_lib.testing import signature_header

SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """aiosmtpd on 127.0.0.1: keeps every message that arrives; can refuse them all."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.refuse = False
        self._arrived = threading.Condition()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def bodies(self, message: EmailMessage) -> tuple[str, str]:
        """The plain-text and HTML parts of a message."""
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        return (text.get_content() if text else "", html.get_content() if html else "")


@pytest.fixture
def smtp():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


def webhook_settings(database_url, stripe_target, smtp, **extra) -> Settings:
    """The integration settings plus a webhook secret, the loopback SMTP server and ``extra``."""
    return Settings(
        database_url=database_url,
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_timeout_seconds=2,
        stripe_retry_backoff_seconds=0.01,
        webhook_secrets=(SECRET,),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="billing@shop.example",
        database_pooler=pooler_for(database_url),
        **extra,
    )


@pytest.fixture
def settings(database_url, stripe_target, smtp):
    """The integration settings plus a webhook secret and the loopback SMTP server."""
    return webhook_settings(database_url, stripe_target, smtp)


def sign(payload: bytes, *secrets: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for ``payload`` (now, with the current secret by default)."""
    return signature_header(
        payload, secrets or (SECRET,), int(time.time()) if timestamp is None else timestamp
    )


def event_of(
    event_type: str,
    obj: dict,
    event_id: str | None = None,
    *,
    created: int | None = None,
    previous: dict | None = None,
) -> dict:
    """A Stripe event about ``obj`` (created now unless given), as Stripe would send it."""
    data: dict = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id or stripe_id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def stripe_id(prefix: str, length: int = 24) -> str:
    """An id shaped like Stripe's (letters and digits): a hex id can hold a run of digits
    that reads as a card number, which the library rightly refuses."""
    alphabet = string.ascii_letters + string.digits
    return f"{prefix}_" + "".join(random.choice(alphabet) for _ in range(length))


def event_payload(event_type: str, obj: dict, event_id: str | None = None, **fields) -> bytes:
    """A Stripe event's JSON, as Stripe would POST it."""
    return json.dumps(event_of(event_type, obj, event_id, **fields)).encode()


def stripe_client(target):
    """The real SDK pointed where the tests' Stripe is (the emulator, or test mode)."""
    import stripe

    return stripe.StripeClient(target.api_key, base_addresses={"api": target.api_base})


def deliver(payments, event: dict) -> object:
    """Receive one event recorded by the emulator, signed now."""
    payload = json.dumps(event).encode()
    return payments.receive_webhook(payload, sign(payload))


def pay_for_plan(payments, user_id=None, email="ada@example.com", method="pm_card_visa"):
    """A paid 9.99 USD basic-monthly payment (the plan is added): its subscription is active."""
    payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )
    return payments.pay(
        user_id=user_id or str(uuid.uuid4()),
        amount="9.99",
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        plan_id="basic-monthly",
        customer_email=email,
    )


def lose_stripe_answers(emulator) -> None:
    """PaymentIntent calls reach Stripe and execute, but every answer is lost on the way
    back: the library sees ProviderUnavailable and only a webhook can tell it what happened."""
    emulator.faults.set(drop_response=True, path_prefix="/v1/payment_intents")


def intent_events(emulator, intent_id: str, *types: str) -> list[dict]:
    """The emulator's events about one PaymentIntent (or its charges), oldest first."""
    found = []
    for event in emulator.events():
        obj = event["data"]["object"]
        about = intent_id in (obj.get("id"), obj.get("payment_intent"))
        if about and (not types or event["type"] in types):
            found.append(event)
    return found


def intent_for(emulator, payment_id) -> dict:
    """The PaymentIntent the library made for one of its payments (by metadata)."""
    [intent] = [
        i
        for i in emulator.objects("payment_intent")
        if i["metadata"].get("payment_id") == str(payment_id)
    ]
    return intent


@contextlib.contextmanager
def webhook_endpoint(payments):
    """A host app's webhook route on loopback: 200 once stored, 401 or 400 when refused.
    Yields its URL."""

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                payments.receive_webhook(body, self.headers.get("Stripe-Signature"))
                self.send_response(200)
            except InvalidSignature:
                self.send_response(401)
            except InvalidRequest:
                self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
