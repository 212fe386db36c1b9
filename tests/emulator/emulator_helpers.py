"""Helpers for the emulator tests: the SDK client, plain HTTP calls, a webhook receiver."""

from __future__ import annotations

import http.client
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import stripe

from payment_lib.testing import StripeTarget


def build_client(target: StripeTarget, *, timeout: float = 10.0) -> stripe.StripeClient:
    """The SDK client exactly as the integration tests build it, with a short HTTP timeout."""
    return stripe.StripeClient(
        target.api_key,
        base_addresses={"api": target.api_base} if target.api_base else {},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


RETURN_URL = "https://shop.example/return"
EMULATOR_SOURCE = Path(__file__).resolve().parents[2] / "payment_lib" / "testing"
_RECORDED = re.compile(r"""store\.record\(\s*call,\s*"([a-z_.]+)\"""")


def recorded_event_types() -> set[str]:
    """Every event type the emulator's source records (``store.record(call, "x.y", ...)``)."""
    return {
        event_type
        for path in EMULATOR_SOURCE.glob("*.py")
        for event_type in _RECORDED.findall(path.read_text())
    }


def pay(
    client: stripe.StripeClient,
    payment_method: str = "pm_card_visa",
    *,
    key: str | None = None,
    **extra: Any,
) -> stripe.PaymentIntent:
    """Create and confirm a 20.00 USD PaymentIntent (``extra`` overrides or adds parameters)."""
    params: dict[str, Any] = {
        "amount": 2000,
        "currency": "usd",
        "payment_method": payment_method,
        "confirm": True,
        "return_url": RETURN_URL,
        **extra,
    }
    return client.v1.payment_intents.create(
        params=params,  # type: ignore[arg-type]
        options={"idempotency_key": key} if key else None,
    )


def http_call(
    method: str,
    url: str,
    body: bytes | None = None,
    timeout: float = 5.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (no redirects followed): status, headers and body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    try:
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@dataclass
class ReceivedWebhook:
    body: bytes
    signature: str


@dataclass
class WebhookReceiver:
    """A tiny HTTP endpoint that records what the emulator posts to it."""

    url: str
    received: list[ReceivedWebhook] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer_next_with(self, *statuses: int) -> None:
        """Answer the next deliveries with these statuses (200 afterwards)."""
        self.statuses.extend(statuses)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedWebhook]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def event_types(self) -> list[str]:
        return [json.loads(item.body)["type"] for item in self.received]
