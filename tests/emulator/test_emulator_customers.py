"""Customers deleted and PaymentMethods updated or detached, with the events Stripe sends."""

from __future__ import annotations

import pytest
import stripe
from emulator_helpers import pay

from payment_lib.testing import StripeEmulator


def saved_card(client: stripe.StripeClient) -> tuple[stripe.Customer, stripe.PaymentMethod]:
    customer = client.v1.customers.create()
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    return customer, method


def last_event(emulator: StripeEmulator) -> dict[str, object]:
    return emulator.events()[-1]


def test_deleting_a_customer_answers_a_deleted_stub(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "ada@example.com"})

    deleted = client.v1.customers.delete(customer.id)

    assert (deleted.id, deleted.object, deleted.deleted) == (customer.id, "customer", True)


def test_a_deleted_customer_is_retrieved_as_deleted(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    client.v1.customers.delete(customer.id)

    fetched = client.v1.customers.retrieve(customer.id)

    assert (fetched.id, fetched.deleted) == (customer.id, True)


def test_a_deleted_customer_cannot_be_deleted_again_or_updated(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    client.v1.customers.delete(customer.id)

    with pytest.raises(stripe.InvalidRequestError) as deleting:
        client.v1.customers.delete(customer.id)
    with pytest.raises(stripe.InvalidRequestError) as updating:
        client.v1.customers.update(customer.id, params={"name": "Ada"})

    assert (deleting.value.code, updating.value.code) == ("resource_missing", "resource_missing")


def test_a_deleted_customer_cannot_pay(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    client.v1.customers.delete(customer.id)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        pay(client, customer=customer.id)

    assert caught.value.param == "customer"


@pytest.mark.emulator_only
def test_deleting_a_customer_records_customer_deleted(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    customer = client.v1.customers.create(params={"email": "ada@example.com"})

    client.v1.customers.delete(customer.id)

    event = last_event(stripe_emulator)
    assert (event["type"], event["data"]["object"]["id"]) == ("customer.deleted", customer.id)  # type: ignore[index]
    assert event["data"]["object"]["email"] == "ada@example.com"  # type: ignore[index]


def test_deleted_customers_are_left_out_of_lists_and_cursors_still_work(
    client: stripe.StripeClient,
) -> None:
    first, second, third = (client.v1.customers.create().id for _ in range(3))
    client.v1.customers.delete(second)

    after_third = client.v1.customers.list(params={"starting_after": third}).data
    everyone = client.v1.customers.list().data

    assert ([c.id for c in after_third], [c.id for c in everyone]) == ([first], [third, first])


def test_a_saved_cards_expiry_can_be_updated(client: stripe.StripeClient) -> None:
    _, method = saved_card(client)

    updated = client.v1.payment_methods.update(
        method.id, params={"card": {"exp_month": 3, "exp_year": 2041}}
    )

    card = updated.card
    assert (card.exp_month, card.exp_year, card.last4) == (3, 2041, "4242")  # type: ignore[union-attr]


def test_billing_details_and_metadata_can_be_updated(client: stripe.StripeClient) -> None:
    _, method = saved_card(client)

    updated = client.v1.payment_methods.update(
        method.id,
        params={
            "billing_details": {"name": "Ada Lovelace", "address": {"postal_code": "N1"}},
            "metadata": {"source": "profile"},
        },
    )

    details = updated.billing_details
    assert (details.name, details.address.postal_code) == ("Ada Lovelace", "N1")  # type: ignore[union-attr]
    assert updated.metadata.to_dict() == {"source": "profile"}


@pytest.mark.emulator_only
def test_updating_a_payment_method_records_payment_method_updated(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    _, method = saved_card(client)

    client.v1.payment_methods.update(method.id, params={"card": {"exp_year": 2041}})

    event = last_event(stripe_emulator)
    data = event["data"]
    assert (event["type"], data["object"]["card"]["exp_year"]) == (  # type: ignore[index]
        "payment_method.updated",
        2041,
    )
    assert data["previous_attributes"]["card"]["exp_year"] == method.card.exp_year  # type: ignore[index,union-attr]


def test_an_expiry_in_the_past_is_refused(client: stripe.StripeClient) -> None:
    _, method = saved_card(client)

    with pytest.raises(stripe.StripeError) as caught:
        client.v1.payment_methods.update(method.id, params={"card": {"exp_year": 2001}})

    assert caught.value.code == "invalid_expiry_year"


def test_a_card_number_cannot_be_updated(client: stripe.StripeClient) -> None:
    _, method = saved_card(client)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_methods.update(method.id, params={"card": {"number": "4242"}})  # type: ignore[typeddict-unknown-key]

    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "card[number]")


def test_a_payment_method_must_be_saved_to_a_customer_to_be_updated(
    client: stripe.StripeClient,
) -> None:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_visa"}}
    )

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_methods.update(method.id, params={"metadata": {"a": "b"}})

    assert caught.value.http_status == 400


@pytest.mark.emulator_only
def test_detaching_records_payment_method_detached(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    customer, method = saved_card(client)

    client.v1.payment_methods.detach(method.id)

    event = last_event(stripe_emulator)
    assert (event["type"], event["data"]["previous_attributes"]) == (  # type: ignore[index]
        "payment_method.detached",
        {"customer": customer.id},
    )


@pytest.mark.emulator_only
def test_a_payment_saving_the_card_for_a_customer_attaches_it(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    """Stripe: setup_future_usage attaches the payment method to the PaymentIntent's
    Customer once the PaymentIntent is confirmed and no action is left."""
    customer = client.v1.customers.create()

    intent = pay(client, customer=customer.id, setup_future_usage="off_session")

    method = client.v1.payment_methods.retrieve(str(intent.payment_method))
    assert method.customer == customer.id
    assert [e["type"] for e in stripe_emulator.events()][-3:] == [
        "payment_method.attached",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [m.id for m in listed.data] == [method.id]
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": method.id}}
    )


def test_a_declined_payment_saving_the_card_does_not_attach_it(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.CardError) as declined:
        pay(client, "pm_card_visa_chargeDeclined", customer=customer.id,
            setup_future_usage="off_session")
    method_id = declined.value.json_body["error"]["payment_method"]["id"]  # type: ignore[index]
    assert client.v1.payment_methods.retrieve(method_id).customer is None


def test_a_payment_without_saving_the_card_does_not_attach_it(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    intent = pay(client, customer=customer.id)
    assert client.v1.payment_methods.retrieve(str(intent.payment_method)).customer is None
