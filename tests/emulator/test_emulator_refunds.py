"""Refunds: full, partial, accumulation on the charge, over-refund and already-refunded errors."""

from __future__ import annotations

import pytest
import stripe
from emulator_helpers import pay

from payment_lib.testing import StripeEmulator


def refund(
    client: stripe.StripeClient, intent: stripe.PaymentIntent, amount: int | None = None
) -> stripe.Refund:
    params: dict[str, object] = {"payment_intent": intent.id}
    if amount is not None:
        params["amount"] = amount
    return client.v1.refunds.create(params=params)  # type: ignore[arg-type]


def charge_of(client: stripe.StripeClient, intent: stripe.PaymentIntent) -> stripe.Charge:
    return client.v1.charges.retrieve(str(intent.latest_charge))


def test_a_refund_without_amount_refunds_everything(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)

    created = refund(client, intent)

    assert (created.object, created.amount, created.status, created.charge) == (
        "refund",
        1000,
        "succeeded",
        intent.latest_charge,
    )


def test_a_full_refund_marks_the_charge_refunded(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)

    refund(client, intent)

    charge = charge_of(client, intent)
    assert (charge.amount_refunded, charge.refunded) == (1000, True)


def test_a_partial_refund_leaves_the_charge_not_refunded(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)

    refund(client, intent, 300)

    charge = charge_of(client, intent)
    assert (charge.amount_refunded, charge.refunded) == (300, False)


def test_partial_refunds_accumulate_to_a_full_refund(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)

    refund(client, intent, 300)
    refund(client, intent, 700)

    charge = charge_of(client, intent)
    assert (charge.amount_refunded, charge.refunded) == (1000, True)


def test_a_refund_can_name_the_charge(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)

    created = client.v1.refunds.create(params={"charge": str(intent.latest_charge), "amount": 100})

    assert (created.amount, created.payment_intent) == (100, intent.id)


def test_refunding_more_than_remains_is_refused_on_amount(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)
    refund(client, intent, 600)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        refund(client, intent, 500)

    assert (caught.value.http_status, caught.value.param) == (400, "amount")
    assert "is greater than unrefunded amount on charge ($4.00)" in str(caught.value.user_message)


def test_refunding_more_than_was_paid_is_refused_naming_the_charge_amount(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, amount=1000)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        refund(client, intent, 1100)

    assert (caught.value.param, caught.value.user_message) == (
        "amount",
        "Refund amount ($11.00) is greater than charge amount ($10.00)",
    )


def test_refunding_a_fully_refunded_charge_is_already_refunded(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, amount=1000)
    refund(client, intent)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        refund(client, intent)

    assert (caught.value.code, caught.value.user_message) == (
        "charge_already_refunded",
        f"Charge {intent.latest_charge} has already been refunded.",
    )


def test_a_refund_is_retrievable(client: stripe.StripeClient) -> None:
    created = refund(client, pay(client, amount=1000), 250)

    fetched = client.v1.refunds.retrieve(created.id)

    assert (fetched.id, fetched.amount) == (created.id, 250)


def test_refunds_are_listed_newest_first_for_a_payment_intent(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, amount=1000)
    first = refund(client, intent, 100)
    second = refund(client, intent, 200)
    refund(client, pay(client, amount=1000), 100)

    listed = client.v1.refunds.list(params={"payment_intent": intent.id})

    assert [item.id for item in listed.data] == [second.id, first.id]


def test_a_refund_reason_outside_stripes_list_is_refused(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent.id, "reason": "changed_mind"})  # type: ignore[typeddict-item]

    assert caught.value.param == "reason"


def test_an_unpaid_payment_intent_cannot_be_refunded(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    with pytest.raises(stripe.InvalidRequestError):
        refund(client, intent)


def test_refunds_page_with_limit_and_starting_after(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)
    first = refund(client, intent, 100)
    second = refund(client, intent, 100)

    page_one = client.v1.refunds.list(params={"payment_intent": intent.id, "limit": 1})
    page_two = client.v1.refunds.list(
        params={"payment_intent": intent.id, "limit": 1, "starting_after": page_one.data[0].id}
    )

    assert ([item.id for item in page_one.data], page_one.has_more) == ([second.id], True)
    assert ([item.id for item in page_two.data], page_two.has_more) == ([first.id], False)


def test_listed_refunds_can_expand_their_charge(client: stripe.StripeClient) -> None:
    intent = pay(client, amount=1000)
    refund(client, intent, 100)

    listed = client.v1.refunds.list(params={"payment_intent": intent.id, "expand": ["data.charge"]})

    assert isinstance(listed.data[0].charge, stripe.Charge)


@pytest.mark.emulator_only
def test_a_refund_on_the_refund_fail_card_answers_succeeded_then_fails(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_refundFail", amount=1000)

    created = refund(client, intent)

    fetched = client.v1.refunds.retrieve(created.id)
    assert (created.status, fetched.status) == ("succeeded", "failed")
    assert charge_of(client, intent).amount_refunded == 0


@pytest.mark.emulator_only
def test_a_failing_refund_records_refund_and_charge_refund_updates_then_refund_failed(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    intent = pay(client, "pm_card_refundFail", amount=1000)

    created = refund(client, intent)

    about_refund = [
        event["type"]
        for event in stripe_emulator.events()
        if event["data"]["object"]["id"] == created.id
    ]
    assert about_refund == [
        "refund.created",
        "refund.updated",
        "charge.refund.updated",
        "refund.failed",
    ]


def test_a_charge_expanded_with_refunds_lists_them_newest_first_and_pages_on(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, amount=1200)
    made = [refund(client, intent, 100).id for _ in range(12)]

    charge = client.v1.charges.retrieve(str(intent.latest_charge), params={"expand": ["refunds"]})

    assert charge.refunds is not None
    assert (len(charge.refunds.data), charge.refunds.has_more, charge.refunds.url) == (
        10,
        True,
        f"/v1/charges/{intent.latest_charge}/refunds",
    )
    assert [item.id for item in charge.refunds.auto_paging_iter()] == made[::-1]


def test_a_refund_names_the_payment_method_and_customer_it_went_back_to(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    intent = pay(client, customer=customer.id, setup_future_usage="off_session")

    created = refund(client, intent)

    assert (created.payment_method, created.customer) == (intent.payment_method, customer.id)
