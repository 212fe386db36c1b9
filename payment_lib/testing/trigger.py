"""``stripe trigger`` for the emulator: make a running emulator produce an event the way Stripe's
CLI does, by creating the objects behind it through the API (a succeeded payment for
``payment_intent.succeeded``, a payment on a dispute card for ``charge.dispute.created``, a
refund for ``charge.refunded``...). The emulator records the event and delivers it, signed,
to its webhook endpoint as it does any other; ``resend`` delivers a recorded one again.

Everything goes over HTTP to the emulator's base URL, so it works on one running in another
process (``payment-cli stripe-emulator trigger``).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from payment_lib.testing.emulator import DEFAULT_API_KEY

Obj = dict[str, Any]

DESCRIPTION = "(created by payment-cli stripe-emulator trigger)"
RETURN_URL = "https://example.com/return"


class TriggerError(Exception):
    """The emulator could not be reached, or refused a step of the fixture."""


@dataclass(frozen=True, slots=True)
class Triggered:
    """What a trigger caused: every event its requests recorded, oldest first."""

    event_type: str
    events: list[Obj]

    @property
    def event(self) -> Obj:
        """The (first) event of the type asked for."""
        return next(event for event in self.events if event["type"] == self.event_type)


class _Emulator:
    """Form-encoded requests to a running emulator, remembering their request ids."""

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.request_ids: set[str] = set()

    def call(self, method: str, path: str, params: Obj | None = None, *, ok: int = 200) -> Obj:
        form = urlencode(_pairs(params or {}))
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif form:
            path, form = f"{path}?{form}", ""
        status, request_id, body = self.send(method, path, form.encode(), headers)
        if request_id:
            self.request_ids.add(request_id)
        if status not in (200, ok):
            error = body.get("error") or {}
            raise TriggerError(f"{method} {path} answered {status}: {error.get('message', body)}")
        return body

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, Obj]:
        connection = http.client.HTTPConnection(urlsplit(self.url).netloc, timeout=self.timeout)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read() or b"{}")
            return response.status, response.getheader("Request-Id"), answer
        except (OSError, ValueError) as problem:
            raise TriggerError(f"cannot reach the emulator at {self.url}: {problem}") from None
        finally:
            connection.close()


def _pairs(params: Obj, prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: ``a[b]=v``, booleans as ``true``/``false``."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        key = f"{prefix}[{name}]" if prefix else name
        if isinstance(value, dict):
            pairs += _pairs(value, key)
        else:
            pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


# Fixtures: the requests behind each event ----------------------------------------------------


def _pay(emulator: _Emulator, card: str = "pm_card_visa", **extra: Any) -> Obj:
    """Create and confirm a 20.00 USD payment (a declined one answers its PaymentIntent)."""
    params = {
        "amount": 2000,
        "currency": "usd",
        "payment_method": card,
        "confirm": True,
        "return_url": RETURN_URL,
        "description": DESCRIPTION,
        **extra,
    }
    answer = emulator.call("POST", "/v1/payment_intents", params, ok=402)
    return answer["error"]["payment_intent"] if "error" in answer else answer


def _created(emulator: _Emulator) -> None:
    params = {"amount": 2000, "currency": "usd", "description": DESCRIPTION}
    emulator.call("POST", "/v1/payment_intents", params)


def _canceled(emulator: _Emulator) -> None:
    params = {"amount": 2000, "currency": "usd", "description": DESCRIPTION}
    intent = emulator.call("POST", "/v1/payment_intents", params)
    emulator.call("POST", f"/v1/payment_intents/{intent['id']}/cancel")


def _captured(emulator: _Emulator) -> None:
    intent = _pay(emulator, capture_method="manual")
    emulator.call("POST", f"/v1/payment_intents/{intent['id']}/capture")


def _refunded(emulator: _Emulator, card: str = "pm_card_visa") -> None:
    emulator.call("POST", "/v1/refunds", {"payment_intent": _pay(emulator, card)["id"]})


def _dispute(emulator: _Emulator) -> Obj:
    intent = _pay(emulator, "pm_card_createDispute")
    found: Obj = emulator.call("GET", "/v1/disputes", {"payment_intent": intent["id"]})
    return found["data"][0]  # type: ignore[no-any-return]


def _dispute_settled(emulator: _Emulator, evidence: str) -> None:
    dispute = _dispute(emulator)
    emulator.call(
        "POST", f"/v1/disputes/{dispute['id']}", {"evidence": {"uncategorized_text": evidence}}
    )


def _dispute_closed(emulator: _Emulator) -> None:
    emulator.call("POST", f"/v1/disputes/{_dispute(emulator)['id']}/close")


def _customer(emulator: _Emulator) -> Obj:
    return emulator.call("POST", "/v1/customers", {"description": DESCRIPTION})


def _attached(emulator: _Emulator) -> Obj:
    customer = _customer(emulator)["id"]
    return emulator.call("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})


def _on_attached(path: str, params: Obj | None = None) -> Callable[[_Emulator], None]:
    def steps(emulator: _Emulator) -> None:
        emulator.call("POST", f"/v1/payment_methods/{_attached(emulator)['id']}{path}", params)

    return steps


def _on_customer(method: str, params: Obj | None = None) -> Callable[[_Emulator], None]:
    def steps(emulator: _Emulator) -> None:
        emulator.call(method, f"/v1/customers/{_customer(emulator)['id']}", params)

    return steps


def _set_up(card: str = "pm_card_visa") -> Callable[[_Emulator], None]:
    """Save ``card`` for off-session use with a SetupIntent for a new customer."""

    def steps(emulator: _Emulator) -> None:
        params = {
            "customer": _customer(emulator)["id"],
            "payment_method": card,
            "confirm": True,
            "return_url": RETURN_URL,
            "description": DESCRIPTION,
        }
        emulator.call("POST", "/v1/setup_intents", params, ok=402)

    return steps


def _setup_canceled(emulator: _Emulator) -> None:
    setup = emulator.call("POST", "/v1/setup_intents", {"description": DESCRIPTION})
    emulator.call("POST", f"/v1/setup_intents/{setup['id']}/cancel")


FIXTURES: dict[str, Callable[[_Emulator], object]] = {
    "payment_intent.created": _created,
    "payment_intent.succeeded": _pay,
    "payment_intent.payment_failed": lambda emulator: _pay(emulator, "pm_card_chargeDeclined"),
    "payment_intent.requires_action": lambda emulator: _pay(
        emulator, "pm_card_authenticationRequired"
    ),
    "payment_intent.canceled": _canceled,
    "payment_intent.amount_capturable_updated": lambda emulator: _pay(
        emulator, capture_method="manual"
    ),
    "charge.succeeded": _pay,
    "charge.failed": lambda emulator: _pay(emulator, "pm_card_chargeDeclined"),
    "charge.captured": _captured,
    "charge.refunded": _refunded,
    "refund.created": _refunded,
    # The refundFail card: its refund answers succeeded, then fails.
    "refund.updated": lambda emulator: _refunded(emulator, "pm_card_refundFail"),
    "refund.failed": lambda emulator: _refunded(emulator, "pm_card_refundFail"),
    "charge.refund.updated": lambda emulator: _refunded(emulator, "pm_card_refundFail"),
    "charge.dispute.created": _dispute,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.updated": lambda emulator: _dispute_settled(emulator, "some evidence"),
    "charge.dispute.closed": _dispute_closed,
    "charge.dispute.funds_reinstated": lambda emulator: _dispute_settled(
        emulator, "winning_evidence"
    ),
    "customer.created": _customer,
    "customer.updated": _on_customer("POST", {"metadata": {"triggered": "true"}}),
    "customer.deleted": _on_customer("DELETE"),
    "payment_method.attached": _attached,
    "payment_method.detached": _on_attached("/detach"),
    "payment_method.updated": _on_attached("", {"metadata": {"triggered": "true"}}),
    "setup_intent.created": _set_up(),
    "setup_intent.succeeded": _set_up(),
    "setup_intent.setup_failed": _set_up("pm_card_chargeDeclined"),
    "setup_intent.requires_action": _set_up("pm_card_authenticationRequired"),
    "setup_intent.canceled": _setup_canceled,
}
EVENT_TYPES = tuple(sorted(FIXTURES))


def trigger(
    url: str, event_type: str, *, api_key: str = DEFAULT_API_KEY, timeout: float = 10.0
) -> Triggered:
    """Make the emulator at ``url`` record (and deliver) an ``event_type`` event.

    Args:
        url: the emulator's base URL (``http://127.0.0.1:12111``).
        event_type: one of ``EVENT_TYPES``.
        api_key: any ``sk_test_`` key.
        timeout: seconds to wait for each answer.

    Returns:
        Every event the fixture's requests recorded, oldest first.

    Raises:
        TriggerError: an event type without a fixture, an emulator that cannot be reached, or
            one that refused a step.
    """
    fixture = FIXTURES.get(event_type)
    if fixture is None:
        raise TriggerError(
            f"Cannot trigger {event_type!r}; supported events: {', '.join(EVENT_TYPES)}."
        )
    emulator = _Emulator(url, api_key, timeout)
    started = int(time.time())
    fixture(emulator)
    caused = _events_of(emulator, started)
    if not any(event["type"] == event_type for event in caused):
        raise TriggerError(f"The requests for {event_type} recorded no such event.")
    return Triggered(event_type, caused)


def _events_of(emulator: _Emulator, since: int) -> list[Obj]:
    """The events recorded by the requests ``emulator`` made, oldest first."""
    ours = set(emulator.request_ids)
    found: list[Obj] = []
    params: Obj = {"limit": 100, "created": {"gte": since}}
    while True:
        page = emulator.call("GET", "/v1/events", params)
        found += [event for event in page["data"] if event["request"]["id"] in ours]
        if not page["has_more"]:
            return found[::-1]
        params["starting_after"] = page["data"][-1]["id"]


def resend(url: str, event_id: str, *, timeout: float = 10.0) -> None:
    """Deliver a recorded event to the emulator's webhook endpoint again.

    Raises:
        TriggerError: the emulator cannot be reached, has no such event, or no webhook
            endpoint to deliver to.
    """
    emulator = _Emulator(url, DEFAULT_API_KEY, timeout)
    status, _, body = emulator.send("POST", f"/_emulator/events/{event_id}/resend", b"", {})
    if status != 200:
        raise TriggerError(str((body.get("error") or {}).get("message", body)))
