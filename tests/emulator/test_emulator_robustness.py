"""No request makes the emulator answer 500 unless a fault is injected: random form bodies,
query strings, methods and paths thrown at every route are answered 2xx or with a
Stripe-shaped 4xx (a JSON ``{"error": {"type", "message", ...}}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
import stripe
from emulator_helpers import RETURN_URL, build_client, http_call, pay
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdk_types import hash_paths, leaf_paths, params_schema

from payment_lib.testing import StripeEmulator, StripeTarget
from payment_lib.testing.routes import ROUTES

ERROR_TYPES = {"invalid_request_error", "card_error", "idempotency_error", "api_error"}
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]


@dataclass(frozen=True)
class Seeded:
    emulator: StripeEmulator
    ids: tuple[str, ...]


def _seed(client: stripe.StripeClient) -> list[str]:
    """One object in each interesting state, so random requests reach the real code paths."""
    customer = client.v1.customers.create(params={"email": "fuzz@example.com"})
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    paid = pay(client, amount=5000)
    refund = client.v1.refunds.create(params={"charge": str(paid.latest_charge), "amount": 100})
    disputed = pay(client, "pm_card_createDispute", amount=3000)
    held = pay(client, currency="eur", capture_method="manual")
    waiting = pay(client, "pm_card_authenticationRequired")
    fresh = client.v1.payment_intents.create(params={"amount": 900, "currency": "jpy"})
    disputes = client.v1.disputes.list()
    events = client.v1.events.list(params={"limit": 3})
    charges = [str(paid.latest_charge), str(held.latest_charge), str(disputed.latest_charge)]
    return [
        customer.id,
        method.id,
        paid.id,
        disputed.id,
        held.id,
        waiting.id,
        fresh.id,
        refund.id,
        *charges,
        *(dispute.id for dispute in disputes.data),
        *(event.id for event in events.data),
    ]


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    with StripeEmulator() as emulator:
        yield Seeded(emulator, tuple(_seed(build_client(StripeTarget.for_emulator(emulator)))))


def _known_names() -> list[str]:
    """Every parameter name the SDK declares for any route (leaves and hashes)."""
    names: set[str] = set()
    for route in ROUTES.values():
        schema = params_schema(route.operation)
        names.update(name for name, _ in leaf_paths(schema))
        names.update(name for name in hash_paths(schema) if name)
    return sorted(names)


KNOWN_NAMES = _known_names()
SUFFIXES = ["", "", "", "[]", "[0]", "[1]", "[x]", "[gte]", "[][x]", "[0][0]", "[", "]"]
VALUES = [
    "",
    "abc",
    "0",
    "1",
    "-1",
    "2000",
    "1.5",
    "99999999999999999999999",
    "true",
    "false",
    "null",
    "card",
    "usd",
    "manual",
    "pm_card_visa",
    "pm_card_chargeDeclined",
    "tok_visa",
    "4242424242424242",
    "latest_charge",
    "data.payment_method",
    "status:'succeeded'",
    "metadata['k']:'v'",
    "winning_evidence",
    RETURN_URL,
]

keys = st.one_of(
    st.builds(
        lambda name, suffix: name + suffix, st.sampled_from(KNOWN_NAMES), st.sampled_from(SUFFIXES)
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.text(alphabet="ab[]0_", max_size=10),
)


@st.composite
def values(draw: st.DrawFn, ids: tuple[str, ...]) -> str:
    return draw(
        st.one_of(
            st.sampled_from(VALUES),
            st.sampled_from(ids),
            st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
        )
    )


@st.composite
def paths(draw: st.DrawFn, ids: tuple[str, ...]) -> str:
    """A route's path with an id that exists, or not, or a path no route has."""
    method, resource, with_id, action = draw(st.sampled_from(sorted(ROUTES, key=str)))
    del method
    parts = ["", "v1", resource]
    if with_id:
        parts.append(
            draw(st.one_of(st.sampled_from(ids), st.sampled_from(["pm_card_visa", "pi_nope"])))
        )
    if action:
        parts.append(action)
    junk = quote(draw(st.text(max_size=15)), safe="")
    return draw(st.sampled_from(["/".join(parts), "/".join(parts), f"/v1/{junk}", f"/{junk}"]))


def _answer_is_stripe_shaped(status: int, body: bytes) -> bool:
    if 200 <= status < 300:
        return isinstance(json.loads(body), dict)
    if not 400 <= status < 500:
        return False
    error = json.loads(body).get("error")
    return (
        isinstance(error, dict)
        and error.get("type") in ERROR_TYPES
        and isinstance(error.get("message"), str)
    )


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_makes_the_emulator_answer_500(seeded: Seeded, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(METHODS), label="method")
    path = data.draw(paths(seeded.ids), label="path")
    pairs = data.draw(st.lists(st.tuples(keys, values(seeded.ids)), max_size=6), label="pairs")
    form = urlencode(pairs)
    headers = {"Authorization": f"Bearer {seeded.emulator.api_key}"}
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if data.draw(st.booleans(), label="idempotency key"):
            headers["Idempotency-Key"] = data.draw(st.text(min_size=1, max_size=8).map(quote))
        status, _, body = http_call(
            method, seeded.emulator.url + path, form.encode(), headers=headers
        )
    else:
        target = f"{path}?{form}" if form else path
        status, _, body = http_call(method, seeded.emulator.url + target, headers=headers)

    assert _answer_is_stripe_shaped(status, body), (status, body[:300])


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/v1/payment_intents", "created=abc"),
        ("GET", "/v1/charges", "created[]=1"),
        ("GET", "/v1/events", "created[gte]=x"),
        (
            "POST",
            "/v1/payment_methods",
            "type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2040&billing_details[address]=Main+Street",
        ),
        ("POST", "/v1/customers", "address=Main+Street"),
        ("POST", "/v1/payment_intents", "amount=2000&currency=usd&shipping=x"),
        ("PUT", "/v1/payment_intents", ""),
        ("PATCH", "/v1/customers", ""),
    ],
)
def test_malformed_inputs_are_refused_with_a_stripe_shaped_400_or_404(
    seeded: Seeded, method: str, path: str, form: str
) -> None:
    headers = {
        "Authorization": f"Bearer {seeded.emulator.api_key}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = form.encode() if method != "GET" else None
    target = f"{path}?{form}" if method == "GET" else path

    status, _, answer = http_call(method, seeded.emulator.url + target, body, headers=headers)

    assert status in (400, 404) and _answer_is_stripe_shaped(status, answer), (status, answer)
