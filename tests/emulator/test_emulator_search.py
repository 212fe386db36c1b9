"""Search: Stripe's query language on PaymentIntents and Charges, search_result pages, and a
400 on the ``query`` parameter for anything malformed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import stripe
from emulator_helpers import http_call, pay

from payment_lib.testing import StripeEmulator


def unpaid(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", **params}  # type: ignore[typeddict-item]
    )


def found(client: stripe.StripeClient, query: str, **params: Any) -> list[str]:
    result = client.v1.payment_intents.search(params={"query": query, **params})
    return [item.id for item in result.data]


def test_payment_intents_are_found_by_metadata_newest_first(client: stripe.StripeClient) -> None:
    first = unpaid(client, metadata={"payment_id": "p-1"})
    unpaid(client, metadata={"payment_id": "p-2"})
    second = unpaid(client, metadata={"payment_id": "p-1"})

    assert found(client, "metadata['payment_id']:'p-1'") == [second.id, first.id]


def test_a_search_answers_a_search_result(client: stripe.StripeClient) -> None:
    unpaid(client, metadata={"payment_id": "p-1"})

    result = client.v1.payment_intents.search(params={"query": "metadata['payment_id']:'p-1'"})

    assert (result.object, result.url, result.has_more, result.next_page, len(result.data)) == (
        "search_result",
        "/v1/payment_intents/search",
        False,
        None,
        1,
    )


def test_payment_intents_are_found_by_status(client: stripe.StripeClient) -> None:
    paid = pay(client)
    unpaid(client)

    assert found(client, "status:'succeeded'") == [paid.id]


def test_clauses_joined_by_and_must_all_match(client: stripe.StripeClient) -> None:
    paid = pay(client, metadata={"order": "17"})
    unpaid(client, metadata={"order": "17"})
    pay(client, metadata={"order": "18"})

    assert found(client, "metadata['order']:'17' AND status:'succeeded'") == [paid.id]


def test_clauses_separated_by_a_space_are_joined_by_and(client: stripe.StripeClient) -> None:
    paid = pay(client, metadata={"order": "17"})
    unpaid(client, metadata={"order": "17"})

    assert found(client, "metadata['order']:'17' status:'succeeded'") == [paid.id]


def test_clauses_joined_by_or_match_either(client: stripe.StripeClient) -> None:
    paid = pay(client)
    canceled = client.v1.payment_intents.cancel(unpaid(client).id)
    unpaid(client)

    assert found(client, "status:'succeeded' or status:'canceled'") == [canceled.id, paid.id]


def test_a_negated_clause_excludes_its_matches(client: stripe.StripeClient) -> None:
    paid = pay(client, metadata={"order": "17"})
    waiting = unpaid(client, metadata={"order": "17"})

    assert found(client, "metadata['order']:'17' -status:'succeeded'") == [waiting.id]
    assert paid.id not in found(client, "-status:'succeeded'")


def test_amounts_compare_as_numbers(client: stripe.StripeClient) -> None:
    small = unpaid(client, amount=900)
    exact = unpaid(client, amount=1000)
    large = unpaid(client, amount=10000)

    assert found(client, "amount:1000") == [exact.id]
    assert found(client, "amount>1000") == [large.id]
    assert found(client, "amount>=1000") == [large.id, exact.id]
    assert found(client, "amount<1000") == [small.id]
    assert found(client, "amount<='1000'") == [exact.id, small.id]


def test_payment_intents_are_found_by_currency_and_customer(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    euros = unpaid(client, currency="eur", customer=customer.id)
    unpaid(client, currency="eur")
    unpaid(client, customer=customer.id)

    assert found(client, f"currency:\"eur\" AND customer:'{customer.id}'") == [euros.id]


@pytest.mark.emulator_only
def test_payment_intents_are_found_by_created(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    made = [unpaid(client).id for _ in range(3)]
    with stripe_emulator.store.lock:
        for object_id, when in zip(made, (1000, 2000, 3000), strict=True):
            stripe_emulator.store.objects[object_id]["created"] = when

    assert found(client, "created>1000 AND created<=3000") == [made[2], made[1]]
    assert found(client, "created>=2000 AND created<3000") == [made[1]]


def test_quotes_inside_a_value_are_escaped_with_a_backslash(client: stripe.StripeClient) -> None:
    quoted = unpaid(client, metadata={"note": 'say "hi" it\'s'})

    assert found(client, r'metadata["note"]:"say \"hi\" it' + "'s\"") == [quoted.id]
    assert found(client, r"metadata['note']:'say " + '"hi" it' + r"\'s'") == [quoted.id]


def test_search_results_page_with_next_page(client: stripe.StripeClient) -> None:
    made = [unpaid(client, metadata={"batch": "b"}).id for _ in range(5)]
    unpaid(client)

    first = client.v1.payment_intents.search(params={"query": "metadata['batch']:'b'", "limit": 2})
    second = client.v1.payment_intents.search(
        params={"query": "metadata['batch']:'b'", "limit": 2, "page": str(first.next_page)}
    )

    assert ([item.id for item in first.data], first.has_more) == ([made[4], made[3]], True)
    assert [item.id for item in second.data] == [made[2], made[1]]


def test_auto_paging_walks_every_search_result(client: stripe.StripeClient) -> None:
    made = [unpaid(client, metadata={"batch": "b"}).id for _ in range(5)]

    result = client.v1.payment_intents.search(params={"query": "metadata['batch']:'b'", "limit": 2})

    assert [item.id for item in result.auto_paging_iter()] == made[::-1]


def test_charges_are_searchable_too(client: stripe.StripeClient) -> None:
    paid = pay(client, metadata={"order": "17"}, amount=5000)
    pay(client, metadata={"order": "18"}, amount=5000)

    result = client.v1.charges.search(
        params={"query": "metadata['order']:'17' AND amount>=5000 AND status:'succeeded'"}
    )

    assert ([item.id for item in result.data], result.url) == (
        [paid.latest_charge],
        "/v1/charges/search",
    )


def test_charges_are_found_by_whether_they_are_refunded(client: stripe.StripeClient) -> None:
    refunded = pay(client)
    kept = pay(client)
    client.v1.refunds.create(params={"payment_intent": refunded.id})

    result = client.v1.charges.search(params={"query": "refunded:'true'"})
    others = client.v1.charges.search(params={"query": "-refunded:'true'"})

    assert [item.id for item in result.data] == [refunded.latest_charge]
    assert [item.id for item in others.data] == [kept.latest_charge]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status",
        "status:",
        "status:'succeeded",
        "status:succeeded",
        "nonsense:'x'",
        "metadata['order':'17'",
        "amount>many",
        "status>'succeeded'",
        "status:'succeeded' AND amount>1 OR amount<5",
        "status:'succeeded' amount>1 OR amount<5",
        "status:'succeeded' AND",
        "AND status:'succeeded'",
        " ".join(["amount>1"] * 11),
    ],
)
def test_a_malformed_query_is_a_400_on_the_query_parameter(
    client: stripe.StripeClient, query: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.search(params={"query": query})

    assert (caught.value.http_status, caught.value.param) == (400, "query")
    assert caught.value.error.type == "invalid_request_error"  # type: ignore[union-attr]
    assert caught.value.code != "parameter_unknown"  # the query is read, not refused unseen


def test_a_page_token_that_is_not_one_is_a_400_on_page(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.search(params={"query": "amount>1", "page": "not-a-token"})

    assert (caught.value.http_status, caught.value.param) == (400, "page")


@pytest.mark.emulator_only
def test_a_search_without_query_is_a_missing_parameter(stripe_emulator: StripeEmulator) -> None:
    status, _, body = http_call(
        "GET",
        f"{stripe_emulator.url}/v1/payment_intents/search?limit=3",
        headers={"Authorization": f"Bearer {stripe_emulator.api_key}"},
    )

    assert (status, json.loads(body)["error"]["param"]) == (400, "query")


@pytest.mark.emulator_only
def test_a_search_query_arrives_url_encoded_as_the_sdk_sends_it(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    mine = unpaid(client, metadata={"payment_id": "a b&c"})
    query = quote("metadata['payment_id']:'a b&c'")

    status, _, body = http_call(
        "GET",
        f"{stripe_emulator.url}/v1/payment_intents/search?query={query}",
        headers={"Authorization": f"Bearer {stripe_emulator.api_key}"},
    )

    assert (status, [item["id"] for item in json.loads(body)["data"]]) == (200, [mine.id])
