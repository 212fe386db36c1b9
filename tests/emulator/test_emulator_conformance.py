"""Every object the emulator answers with has the fields the installed stripe-python declares
for it: no field the SDK does not know, every declared field present (null where it does not
apply), every value of the declared type and every enum value one the SDK's ``Literal`` lists.

The SDK's classes are read at test time (tests/emulator/sdk_types.py), so upgrading it shows
here what changed. Nested objects are checked the same way, against the SDK's nested classes.
Where Stripe itself leaves a declared field out, the exception is listed below with why.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import types
import typing
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from emulator_helpers import RETURN_URL, build_client, http_call, pay
from sdk_types import literal_values, type_hints

from payment_lib.testing import StripeEmulator, StripeTarget

RESOURCES: dict[str, type] = {
    "payment_method": stripe.PaymentMethod,
    "customer": stripe.Customer,
    "payment_intent": stripe.PaymentIntent,
    "charge": stripe.Charge,
    "refund": stripe.Refund,
    "dispute": stripe.Dispute,
    "setup_intent": stripe.SetupIntent,
    "event": stripe.Event,
    "balance_transaction": stripe.BalanceTransaction,
    "list": stripe.ListObject,
    "search_result": stripe.SearchResultObject,
}
# Only disputes eligible for a card network's program carry its entry.
_PROGRAMS = {"mastercard_compliance", "visa_compelling_evidence_3", "visa_compliance"}
# Fields Stripe sends only when asked (``expand[]``: "includable"), or only on some objects.
LEFT_OUT: dict[type, set[str]] = {
    stripe.Charge: {"refunds"},
    stripe.Customer: {
        "cash_balance",
        "invoice_credit_balance",
        "sources",
        "subscriptions",
        "tax",
        "tax_ids",
        "deleted",  # only on a deleted customer's stub
    },
    stripe.Event: {"account", "context"},  # Connect and organization events only
    stripe.Event.Data: {"previous_attributes"},  # *.updated events only
    stripe.Dispute.Evidence.EnhancedEvidence: _PROGRAMS,
    stripe.Dispute.EvidenceDetails.EnhancedEligibility: _PROGRAMS,
}
# Fields Stripe sends that the SDK does not annotate: search results carry their ``url``.
ALSO_KNOWN = {stripe.SearchResultObject: {"url"}}
# Error objects, like the errors they copy, leave out what does not apply.
ERROR_CLASSES = (stripe.PaymentIntent.LastPaymentError, stripe.SetupIntent.LastSetupError)


@functools.cache
def fields_of(cls: type) -> dict[str, Any]:
    return type_hints(cls)


def _is_object_class(annotation: Any) -> bool:
    cls = typing.get_origin(annotation) or annotation
    return isinstance(cls, type) and issubclass(cls, stripe.StripeObject)


def _type_siblings(cls: type, obj: dict[str, Any]) -> set[str]:
    """Fields for the other types of a ``type``-discriminated object (a card PaymentMethod has
    ``card`` but no ``ideal``): Stripe sends only the one its ``type`` names."""
    fields = fields_of(cls)
    kind = obj.get("type")
    if "type" not in fields or kind not in fields:
        return set()
    named = literal_values(fields["type"])
    if named is not None:
        return {name for name in named if name in fields and name != kind}
    return {
        name
        for name, annotation in fields.items()
        if name not in (kind, "type") and any(map(_is_object_class, _options(annotation)))
    }


def _payment_method_types() -> frozenset[Any]:
    return literal_values(fields_of(stripe.PaymentMethod)["type"]) or frozenset()


def _keyed_by_payment_method_type(cls: type, obj: dict[str, Any]) -> set[str]:
    """payment_method_options has an entry for each payment method type in use only."""
    if cls.__name__ != "PaymentMethodOptions":
        return set()
    return {name for name in fields_of(cls) if name in _payment_method_types()}


def _options(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def object_problems(obj: dict[str, Any], cls: type, path: str) -> list[str]:
    fields = fields_of(cls)
    known = set(fields) | {"object"} | ALSO_KNOWN.get(cls, set())
    problems = [f"{path}.{name}: not in the SDK" for name in obj if name not in known]
    if not (issubclass(cls, ERROR_CLASSES) or obj.get("deleted")):
        optional = LEFT_OUT.get(cls, set()) | _type_siblings(cls, obj)
        optional |= _keyed_by_payment_method_type(cls, obj)
        problems += [
            f"{path}.{name}: missing" for name in fields if name not in obj and name not in optional
        ]
    for name, value in obj.items():
        if name in fields:
            problems += value_problems(value, fields[name], f"{path}.{name}")
    if cls is stripe.Event:
        problems += _event_data_problems(obj, path)
    return problems


def _event_data_problems(event: dict[str, Any], path: str) -> list[str]:
    data = event["data"]
    problems = resource_problems(data["object"], f"{path}.data.object")
    cls = RESOURCES.get(data["object"].get("object"))
    for name in data.get("previous_attributes") or {}:
        if cls is not None and name not in fields_of(cls):
            problems.append(f"{path}.data.previous_attributes.{name}: not in the SDK")
    return problems


def value_problems(value: Any, annotation: Any, path: str) -> list[str]:
    """What is wrong with one value for its declared type (null is always taken: the SDK's
    Optional does not tell nullable fields from the others reliably)."""
    if value is None or annotation is Any:
        return []
    allowed = literal_values(annotation)
    if allowed is not None and isinstance(value, str | bool | int):
        return [] if value in allowed else [f"{path}: {value!r} is not one of the SDK's values"]
    failures: list[list[str]] = []
    for option in _options(annotation):
        if option is type(None):
            continue
        found = _option_problems(value, option, path)
        if not found:
            return []
        failures.append(found)
    return min(failures, key=len) if failures else []


def _option_problems(value: Any, option: Any, path: str) -> list[str]:
    origin, args = typing.get_origin(option), typing.get_args(option)
    if option in (str, int, bool, float):
        ok = isinstance(value, option) and not (option is int and isinstance(value, bool))
        ok = ok or (option is float and isinstance(value, int))
        return [] if ok else [f"{path}: {value!r} is not {option.__name__}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [
            p for i, item in enumerate(value) for p in value_problems(item, args[0], f"{path}[{i}]")
        ]
    if (
        origin is dict
        or "UntypedStripeObject" in str(option)
        or getattr(option, "__unresolved__", False)
    ):
        return []
    target = origin or option
    if isinstance(target, type) and issubclass(target, stripe.ListObject):
        if not isinstance(value, dict):
            return [f"{path}: not a list object"]
        problems = object_problems(value, stripe.ListObject, path)
        return problems + [p for item in value["data"] for p in resource_problems(item, path)]
    if _is_object_class(target):
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        return object_problems(value, target, path)
    return []


def resource_problems(obj: dict[str, Any], path: str) -> list[str]:
    cls = RESOURCES.get(obj.get("object", ""))
    if cls is None:
        return [f"{path}: unknown object {obj.get('object')!r}"]
    problems = object_problems(obj, cls, f"{path}<{obj['object']}>")
    for item in (
        obj.get("data", []) if cls in (stripe.ListObject, stripe.SearchResultObject) else []
    ):
        problems += resource_problems(item, f"{path}.data")
    return problems


def distinct(problems: list[str]) -> list[str]:
    """The problems once each, list positions left out (``data[].amount: missing``)."""
    return sorted({re.sub(r"\[\d+\]", "[]", problem) for problem in problems})


# Objects in every state the emulator has ------------------------------------------------------


def _pay(client: stripe.StripeClient, method: str, **extra: Any) -> str:
    """A payment's PaymentIntent id, declined or not (None leaves a parameter out)."""
    try:
        return pay(client, method, **extra).id
    except stripe.CardError as declined:
        return str((declined.json_body or {})["error"]["payment_intent"]["id"])


def _make_everything(emulator: StripeEmulator) -> None:
    client = build_client(StripeTarget.for_emulator(emulator))
    address = {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    customer = client.v1.customers.create(
        params={
            "email": "ada@example.com",
            "name": "Ada",
            "address": address,
            "shipping": {"name": "Ada", "address": address},
            "metadata": {"user": "1"},
        }
    )
    saved = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"},
            "billing_details": {"name": "Ada", "address": {"postal_code": "12345"}},
        }
    )
    client.v1.payment_methods.attach(saved.id, params={"customer": customer.id})
    client.v1.payment_methods.update(saved.id, params={"metadata": {"a": "b"}})
    loose = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    client.v1.payment_methods.detach(loose.id)
    client.v1.customers.update(customer.id, params={"description": "vip"})
    client.v1.customers.delete(client.v1.customers.create().id)

    client.v1.payment_intents.create(params={"amount": 1000, "currency": "eur"})
    paid = _pay(
        client, "pm_card_visa", customer=customer.id, shipping={"name": "Ada", "address": address}
    )
    _pay(client, "pm_card_chargeDeclinedInsufficientFunds")
    _pay(client, "pm_card_radarBlock")
    _pay(client, "pm_card_authenticationRequired", off_session=True, return_url=None)
    waiting = _pay(client, "pm_card_authenticationRequired")
    emulator.authenticate(_pay(client, "pm_card_threeDSecure2Required"))
    emulator.authenticate(_pay(client, "pm_card_authenticationRequired"), success=False)
    _pay(
        client,
        "pm_card_authenticationRequired",
        return_url=None,
        automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
    )
    held = _pay(client, "pm_card_visa", capture_method="manual")
    client.v1.payment_intents.capture(held)
    client.v1.payment_intents.cancel(_pay(client, "pm_card_visa", capture_method="manual"))
    client.v1.payment_intents.cancel(waiting, params={"cancellation_reason": "abandoned"})

    client.v1.refunds.create(params={"payment_intent": paid, "amount": 500, "reason": "duplicate"})
    client.v1.refunds.create(params={"payment_intent": paid})
    client.v1.refunds.create(params={"payment_intent": _pay(client, "pm_card_refundFail")})

    _pay(client, "pm_card_createDispute")
    won = client.v1.disputes.list().data[0]
    client.v1.disputes.update(
        won.id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    _pay(client, "pm_card_createDisputeProductNotReceived")
    client.v1.disputes.close(client.v1.disputes.list().data[0].id)
    _pay(client, "pm_card_createDisputeInquiry")
    inquiry = client.v1.disputes.list().data[0]
    client.v1.disputes.update(
        inquiry.id, params={"evidence": {"product_description": "a hat"}, "submit": False}
    )
    _make_setup_intents(emulator, client, customer.id)


def _make_setup_intents(
    emulator: StripeEmulator, client: stripe.StripeClient, customer: str
) -> None:
    no_redirects = {"enabled": True, "allow_redirects": "never"}
    for card in ("pm_card_visa", "pm_card_chargeDeclined", "pm_card_threeDSecure2Required"):
        with contextlib.suppress(stripe.CardError):
            client.v1.setup_intents.create(
                params={
                    "customer": client.v1.customers.create().id,
                    "payment_method": card,
                    "confirm": True,
                    "automatic_payment_methods": no_redirects,  # type: ignore[typeddict-item]
                    "metadata": {"user": "1"},
                }
            )
    waiting = client.v1.setup_intents.create(
        params={
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "return_url": RETURN_URL,
        }
    )
    emulator.authenticate(waiting.id, success=False)
    client.v1.setup_intents.cancel(client.v1.setup_intents.create(params={"customer": customer}).id)


@pytest.fixture(scope="module")
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as running:
        _make_everything(running)
        yield running


def get(emulator: StripeEmulator, path: str, **query: Any) -> dict[str, Any]:
    status, _, body = http_call(
        "GET",
        f"{emulator.url}{path}?{urlencode(query, doseq=True)}",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    answer: dict[str, Any] = json.loads(body)
    assert status == 200, answer
    return answer


KINDS = {
    "payment_method": "payment_methods",
    "customer": "customers",
    "payment_intent": "payment_intents",
    "charge": "charges",
    "refund": "refunds",
    "dispute": "disputes",
    "setup_intent": "setup_intents",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_object_retrieved_has_the_fields_the_sdk_declares(
    emulator: StripeEmulator, kind: str
) -> None:
    stored = [obj["id"] for obj in emulator.store.kinds[kind]]
    answers = [get(emulator, f"/v1/{KINDS[kind]}/{object_id}") for object_id in stored]

    assert stored and distinct([p for obj in answers for p in resource_problems(obj, kind)]) == []


def test_every_event_has_the_fields_the_sdk_declares_and_a_declared_type(
    emulator: StripeEmulator,
) -> None:
    events = emulator.events()

    assert len(events) > 50
    assert distinct([p for event in events for p in resource_problems(event, event["type"])]) == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/payment_methods?customer={customer}",
        "/v1/customers",
        "/v1/customers/{customer}/payment_methods",
        "/v1/payment_intents",
        "/v1/charges",
        "/v1/refunds",
        "/v1/disputes",
        "/v1/setup_intents",
        "/v1/events",
        "/v1/payment_intents/search?query=status:'succeeded'",
        "/v1/charges/search?query=refunded:'true'",
    ],
)
def test_lists_and_search_results_have_the_fields_the_sdk_declares(
    emulator: StripeEmulator, path: str
) -> None:
    customer = next(c["id"] for c in emulator.store.kinds["customer"] if not c.get("deleted"))
    target, _, query = path.format(customer=customer).partition("?")
    params = dict(pair.split("=", 1) for pair in query.split("&") if pair)

    answer = get(emulator, target, limit=100, **params)

    assert answer["data"] and distinct(resource_problems(answer, target)) == []


@pytest.mark.parametrize(
    ("path", "expand"),
    [
        ("payment_intents", ["latest_charge", "payment_method", "customer"]),
        ("charges", ["refunds", "payment_intent", "balance_transaction"]),
        ("refunds", ["charge", "payment_intent"]),
        ("disputes", ["charge", "payment_intent"]),
    ],
)
def test_expanded_objects_have_the_fields_the_sdk_declares(
    emulator: StripeEmulator, path: str, expand: list[str]
) -> None:
    kind = next(kind for kind, resource in KINDS.items() if resource == path)
    chosen = emulator.store.kinds[kind][0]["id"]

    answer = get(emulator, f"/v1/{path}/{chosen}", **{"expand[]": expand})

    assert distinct(resource_problems(answer, path)) == []


def test_a_declined_payments_error_carries_a_conforming_payment_intent(
    emulator: StripeEmulator,
) -> None:
    form = urlencode(
        {
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_chargeDeclined",
            "confirm": "true",
            "return_url": RETURN_URL,
        }
    ).encode()
    headers = {
        "Authorization": f"Bearer {emulator.api_key}",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    status, _, body = http_call("POST", f"{emulator.url}/v1/payment_intents", form, headers=headers)

    error = json.loads(body)["error"]
    assert (status, resource_problems(error["payment_intent"], "error.payment_intent")) == (402, [])
    assert object_problems(error, stripe.PaymentIntent.LastPaymentError, "error") == []


def test_charges_no_longer_carry_the_fields_the_api_removed(emulator: StripeEmulator) -> None:
    charge = get(emulator, f"/v1/charges/{emulator.store.kinds['charge'][0]['id']}")

    assert {"dispute", "destination"} & set(charge) == set()
