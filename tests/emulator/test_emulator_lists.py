"""List endpoints: ``created`` filters with Stripe's refusals, cursor pagination newest first,
and long lists walked page by page."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from emulator_helpers import http_call, pay

from payment_lib.testing import StripeEmulator
from payment_lib.testing.payment_objects import payment_intent

Maker = Callable[[stripe.StripeClient], str]


def make_payment_intent(client: stripe.StripeClient) -> str:
    return client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"}).id


def make_charge(client: stripe.StripeClient) -> str:
    return str(pay(client).latest_charge)


def make_refund(client: stripe.StripeClient) -> str:
    return client.v1.refunds.create(params={"payment_intent": pay(client).id}).id


def make_customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create().id


def list_ids(client: stripe.StripeClient, resource: str, **params: Any) -> list[str]:
    service = getattr(client.v1, resource)
    return [item.id for item in service.list(params=params).data]


def backdate(emulator: StripeEmulator, created: dict[str, int]) -> None:
    """Give objects the ``created`` times a test needs (they were all made this second)."""
    with emulator.store.lock:
        for object_id, when in created.items():
            emulator.store.objects[object_id]["created"] = when


KINDS = [
    ("payment_intents", make_payment_intent),
    ("charges", make_charge),
    ("refunds", make_refund),
    ("customers", make_customer),
]


@pytest.fixture(params=KINDS, ids=[resource for resource, _ in KINDS])
def three_made(
    request: pytest.FixtureRequest, client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> tuple[str, list[str]]:
    """A resource and three of its objects, created at 1000, 2000 and 3000."""
    resource: str = request.param[0]
    make: Maker = request.param[1]
    made = [make(client) for _ in range(3)]
    backdate(stripe_emulator, dict(zip(made, (1000, 2000, 3000), strict=True)))
    return resource, made


@pytest.mark.emulator_only
@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ({"gte": 2000}, [2, 1]),
        ({"gt": 2000}, [2]),
        ({"lt": 2000}, [0]),
        ({"lte": 2000}, [1, 0]),
        ({"gt": 1000, "lt": 3000}, [1]),
        (2000, [1]),
    ],
    ids=["gte", "gt", "lt", "lte", "between", "exact"],
)
def test_lists_are_filtered_on_created(
    client: stripe.StripeClient,
    three_made: tuple[str, list[str]],
    created: dict[str, int] | int,
    expected: list[int],
) -> None:
    resource, made = three_made

    listed = list_ids(client, resource, created=created)

    assert listed == [made[index] for index in expected]


@pytest.mark.emulator_only
def test_a_created_filter_combines_with_the_other_filters(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    customer = client.v1.customers.create()
    old, new = (pay(client, customer=customer.id) for _ in range(2))
    pay(client)
    backdate(stripe_emulator, {old.id: 1000, new.id: 2000})

    listed = list_ids(client, "payment_intents", customer=customer.id, created={"gt": 1500})

    assert listed == [new.id]


def test_events_are_filtered_on_created(client: stripe.StripeClient) -> None:
    client.v1.customers.create()
    now = int(time.time())

    later = client.v1.events.list(params={"created": {"gt": now + 1000}})
    earlier = client.v1.events.list(params={"created": {"lte": now + 1000}})

    assert (later.data, [event.type for event in earlier.data]) == ([], ["customer.created"])


def raw_list(emulator: StripeEmulator, path: str) -> tuple[int, dict[str, Any]]:
    status, _, body = http_call(
        "GET", f"{emulator.url}{path}", headers={"Authorization": f"Bearer {emulator.api_key}"}
    )
    return status, json.loads(body)


@pytest.mark.emulator_only
@pytest.mark.parametrize(
    "resource", ["payment_intents", "charges", "refunds", "customers", "events"]
)
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("created=abc", "created"),
        ("created=", "created"),
        ("created[gte]=x", "created[gte]"),
        ("created[lt]=1.5", "created[lt]"),
        ("created[]=1", "created[0]"),
        ("created[after]=1", "created[after]"),
        ("created[gte][x]=1", "created[gte][x]"),
    ],
)
def test_a_malformed_created_filter_is_a_400_naming_the_parameter(
    stripe_emulator: StripeEmulator, resource: str, query: str, param: str
) -> None:
    status, body = raw_list(stripe_emulator, f"/v1/{resource}?{query}")

    assert (status, body["error"]["type"], body["error"]["param"]) == (
        400,
        "invalid_request_error",
        param,
    )


def test_a_non_integer_created_is_refused_through_the_sdk(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.list(params={"created": {"gte": "yesterday"}})  # type: ignore[typeddict-item]

    assert (caught.value.http_status, caught.value.param, caught.value.code) == (
        400,
        "created[gte]",
        "parameter_invalid_integer",
    )


def test_payment_methods_have_no_created_filter(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_methods.list(params={"customer": customer.id, "created": 1})  # type: ignore[typeddict-unknown-key]

    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "created")


def test_auto_paging_walks_every_object_newest_first(client: stripe.StripeClient) -> None:
    made = [make_customer(client) for _ in range(25)]

    walked = [item.id for item in client.v1.customers.list(params={"limit": 10}).auto_paging_iter()]

    assert walked == made[::-1]


def test_ending_before_gives_the_newer_page_next_to_the_cursor(
    client: stripe.StripeClient,
) -> None:
    made = [make_customer(client) for _ in range(5)]

    newer = client.v1.customers.list(params={"ending_before": made[1], "limit": 2})

    assert ([item.id for item in newer.data], newer.has_more) == ([made[3], made[2]], True)


def test_an_unknown_cursor_is_refused_on_its_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.list(params={"starting_after": "cus_unknown"})

    assert caught.value.param == "starting_after"


@pytest.mark.emulator_only
def test_ten_thousand_payment_intents_are_walked_page_by_page_quickly(
    stripe_emulator: StripeEmulator,
) -> None:
    now = int(time.time())
    with stripe_emulator.store.lock:
        made = [
            stripe_emulator.store.add(payment_intent({}, amount=1000, currency="usd", created=now))[
                "id"
            ]
            for _ in range(10_000)
        ]
    walked: list[str] = []
    started = time.perf_counter()

    more = True
    while more:  # raw HTTP: the SDK's own object building would dominate the timing
        cursor = f"&starting_after={walked[-1]}" if walked else ""
        _, body = raw_list(
            stripe_emulator, f"/v1/payment_intents?limit=100&created[gte]={now}{cursor}"
        )
        walked.extend(item["id"] for item in body["data"])
        more = body["has_more"]

    assert walked == made[::-1]
    # Each page walks about 100 objects from its cursor (0.5 s in all on the project's
    # machine); sorting or scanning all 10,000 for every page took several times longer.
    assert time.perf_counter() - started < 10
