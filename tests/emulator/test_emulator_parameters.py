"""Parameters as the installed stripe-python's typed params declare them, route by route:
every declared parameter is accepted (never ``parameter_unknown``), any other is refused at
any depth with ``parameter_unknown`` and its full bracketed name, and a missing object in
the path is a 404 ``resource_missing``.

The SDK is read at test time (tests/emulator/sdk_types.py), so upgrading it shows here what
changed; ``.venv/bin/python tests/emulator/sdk_types.py --write`` regenerates the table the
emulator ships.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from emulator_helpers import build_client, http_call, pay
from sdk_types import hash_paths, leaf_paths, params_schema

from payment_lib.testing import StripeEmulator, StripeTarget
from payment_lib.testing.routes import ROUTES

RouteKey = tuple[str, str, bool, str | None]
PROBE = "zz_not_a_parameter"
MISSING_IDS = {
    "payment_methods": "pm_missing000000000000000",
    "customers": "cus_missing00000000000000",
    "payment_intents": "pi_missing000000000000000",
    "charges": "ch_missing000000000000000",
    "refunds": "re_missing000000000000000",
    "disputes": "dp_missing000000000000000",
    "events": "evt_missing00000000000000",
    "setup_intents": "seti_missing0000000000000",
}


def _route_id(key: RouteKey) -> str:
    return ROUTES[key].operation


ROUTE_KEYS = sorted(ROUTES, key=_route_id)


@pytest.fixture(scope="module")
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def existing(emulator: StripeEmulator) -> dict[str, str]:
    """An object of each resource, for the paths that need an id."""
    client = build_client(StripeTarget.for_emulator(emulator))
    customer = client.v1.customers.create()
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    paid = pay(client, "pm_card_createDisputeInquiry")
    refund = client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 100})
    return {
        "payment_methods": method.id,
        "customers": customer.id,
        "payment_intents": client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd"}
        ).id,
        "charges": str(paid.latest_charge),
        "refunds": refund.id,
        "disputes": client.v1.disputes.list().data[0].id,
        "events": client.v1.events.list(params={"limit": 1}).data[0].id,
        "setup_intents": client.v1.setup_intents.create().id,
    }


def send(
    emulator: StripeEmulator, key: RouteKey, object_id: str | None, pairs: list[tuple[str, str]]
) -> tuple[int, dict[str, Any]]:
    """One request to a route (the id in the path, the pairs as its form or query)."""
    method, resource, with_id, action = key
    path = "/".join(
        [
            "",
            "v1",
            resource,
            *([object_id] if with_id and object_id else []),
            *filter(None, [action]),
        ]
    )
    form = urlencode(pairs)
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = http_call(method, emulator.url + path, form.encode(), headers=headers)
    else:
        answer = http_call(method, f"{emulator.url}{path}?{form}", headers=headers)
    status, _, body = answer
    return status, json.loads(body)


def _refusal(status: int, body: dict[str, Any]) -> tuple[int, str | None, str | None] | None:
    """What is wrong with an answer to declared parameters (None: they were accepted)."""
    error = body.get("error") or {}
    typed = error.get("message") in ("Invalid hash", "Invalid array")
    if status >= 500 or error.get("code") == "parameter_unknown" or typed:
        return status, error.get("param"), error.get("message")
    return None


@pytest.mark.parametrize("key", ROUTE_KEYS, ids=_route_id)
def test_every_parameter_the_sdk_declares_is_accepted(
    emulator: StripeEmulator, existing: dict[str, str], key: RouteKey
) -> None:
    schema = params_schema(ROUTES[key].operation)
    refused = {}
    for name, node in schema.items():
        if name:
            pairs = list(leaf_paths({name: node}))
            status, body = send(emulator, key, existing[key[1]], pairs)
            if (problem := _refusal(status, body)) is not None:
                refused[name] = problem

    assert refused == {}


@pytest.mark.parametrize("key", ROUTE_KEYS, ids=_route_id)
def test_unknown_parameters_are_refused_at_any_depth_with_their_full_name(
    emulator: StripeEmulator, existing: dict[str, str], key: RouteKey
) -> None:
    schema = params_schema(ROUTES[key].operation)
    probes = [f"{path}[{PROBE}]" if path else PROBE for path in hash_paths(schema)]
    # A key nested under a parameter that takes a plain value is unknown too (customer[x]).
    probes += [f"{name}[{PROBE}]" for name, node in schema.items() if node == "s"]
    wrong = {}
    for probe in probes:
        status, body = send(emulator, key, existing[key[1]], [(probe, "1")])
        error = body.get("error") or {}
        answer = (status, error.get("code"), error.get("param"), error.get("message"))
        expected = (400, "parameter_unknown", probe, f"Received unknown parameter: {probe}")
        if answer != expected:
            wrong[probe] = answer

    assert wrong == {}


@pytest.mark.parametrize("key", [key for key in ROUTE_KEYS if key[2]], ids=_route_id)
def test_a_missing_object_in_the_path_is_404_resource_missing(
    emulator: StripeEmulator, existing: dict[str, str], key: RouteKey
) -> None:
    missing = MISSING_IDS[key[1]]
    needed = [("customer", existing["customers"])] if key[3] == "attach" else []

    status, body = send(emulator, key, missing, needed)

    error = body["error"]
    assert (status, error.get("code"), f"'{missing}'" in error["message"]) == (
        404,
        "resource_missing",
        True,
    )


@pytest.mark.parametrize(
    ("key", "form", "param"),
    [
        (("POST", "payment_methods", False, None), [("type", "ideal")], "type"),
        (
            ("POST", "payment_intents", False, None),
            [
                ("amount", "2000"),
                ("currency", "eur"),
                ("payment_method_data[type]", "sepa_debit"),
            ],
            "payment_method_data[type]",
        ),
    ],
    ids=["payment method create", "payment_method_data"],
)
def test_payment_method_types_other_than_card_are_refused_with_stripes_message(
    emulator: StripeEmulator, key: RouteKey, form: list[tuple[str, str]], param: str
) -> None:
    status, body = send(emulator, key, None, form)

    kind = form[-1][1]
    assert (status, body["error"]["param"], body["error"]["message"]) == (
        400,
        param,
        f'The payment method type "{kind}" is invalid. Please ensure the provided type is '
        "activated in your dashboard (https://dashboard.stripe.com/account/payments/settings) "
        "and your account is enabled for any preview features that you are trying to use.",
    )


def test_a_hash_given_as_a_plain_value_is_refused_as_an_invalid_hash(
    emulator: StripeEmulator,
) -> None:
    status, body = send(
        emulator,
        ("POST", "payment_methods", False, None),
        None,
        [("type", "card"), ("card[token]", "tok_visa"), ("billing_details[address]", "Main St")],
    )

    assert (status, body["error"]["param"], body["error"]["message"]) == (
        400,
        "billing_details[address]",
        "Invalid hash",
    )


def test_an_empty_value_unsets_a_hash_parameter(
    emulator: StripeEmulator, existing: dict[str, str]
) -> None:
    key: RouteKey = ("POST", "payment_intents", True, None)
    send(
        emulator,
        key,
        existing["payment_intents"],
        [("shipping[name]", "Jenny"), ("shipping[address][line1]", "1 Main St")],
    )

    status, body = send(emulator, key, existing["payment_intents"], [("shipping", "")])

    assert (status, body["shipping"]) == (200, None)
