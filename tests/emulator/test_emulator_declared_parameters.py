"""Parameters stripe-python declares that the emulator now takes, doing what Stripe does with
them: payment_method_data on update, card payment options, excluded payment method types,
confirmation tokens, customers' names and tax status, shipping and addresses answered in full.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from emulator_helpers import RETURN_URL, pay


def create(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", **params}  # type: ignore[typeddict-item]
    )


def test_payment_method_data_on_update_gives_the_payment_intent_a_new_payment_method(
    client: stripe.StripeClient,
) -> None:
    intent = create(client)

    updated = client.v1.payment_intents.update(
        intent.id,
        params={"payment_method_data": {"type": "card", "card": {"token": "tok_amex"}}},  # type: ignore[typeddict-item]
    )

    method = client.v1.payment_methods.retrieve(str(updated.payment_method))
    assert (updated.status, method.card.brand if method.card else None) == (
        "requires_confirmation",
        "amex",
    )


def test_a_card_capture_method_of_manual_holds_the_card_payment_for_capture(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, payment_method_options={"card": {"capture_method": "manual"}})

    assert (intent.status, intent.amount_capturable, intent.capture_method) == (
        "requires_capture",
        2000,
        "automatic_async",
    )


def test_card_payment_options_are_answered_on_the_payment_intent(
    client: stripe.StripeClient,
) -> None:
    intent = create(
        client,
        payment_method_options={
            "card": {"request_three_d_secure": "any", "setup_future_usage": "off_session"}
        },
    )

    options = intent.to_dict()["payment_method_options"]["card"]
    assert (options["request_three_d_secure"], options["setup_future_usage"]) == (
        "any",
        "off_session",
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("capture_method", "later"),
        ("request_three_d_secure", "always"),
        ("setup_future_usage", "forever"),
    ],
)
def test_a_card_option_value_stripe_does_not_know_is_refused(
    client: stripe.StripeClient, option: str, value: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(client, payment_method_options={"card": {option: value}})

    assert refused.value.param == f"payment_method_options[card][{option}]"


def test_excluded_payment_method_types_are_kept_on_the_payment_intent(
    client: stripe.StripeClient,
) -> None:
    intent = create(client, excluded_payment_method_types=["klarna", "ideal"])

    assert intent.excluded_payment_method_types == ["klarna", "ideal"]


def test_a_confirmation_token_the_emulator_never_issued_is_resource_missing(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(client, confirm=True, confirmation_token="ctoken_123", return_url=RETURN_URL)

    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        "resource_missing",
        "confirmation_token",
    )


def test_customer_names_and_tax_status_are_kept_and_updated(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(
        params={"business_name": "Acme", "individual_name": "Ada", "tax_exempt": "reverse"}
    )

    updated = client.v1.customers.update(
        customer.id, params={"business_name": "Acme Ltd", "tax_exempt": "none"}
    )

    assert (customer.business_name, customer.individual_name, customer.tax_exempt) == (
        "Acme",
        "Ada",
        "reverse",
    )
    assert (updated.business_name, updated.individual_name, updated.tax_exempt) == (
        "Acme Ltd",
        "Ada",
        "none",
    )


def test_a_tax_status_stripe_does_not_know_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create(params={"tax_exempt": "sometimes"})

    assert refused.value.param == "tax_exempt"


def test_updated_shipping_and_addresses_are_answered_in_full(
    client: stripe.StripeClient,
) -> None:
    intent = create(client)
    customer = client.v1.customers.create()

    shipped = client.v1.payment_intents.update(
        intent.id, params={"shipping": {"name": "Ada", "address": {"line1": "1 Main St"}}}
    )
    moved = client.v1.customers.update(customer.id, params={"address": {"city": "Paris"}})

    assert shipped.to_dict()["shipping"] == {
        "address": {
            "city": None,
            "country": None,
            "line1": "1 Main St",
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "carrier": None,
        "name": "Ada",
        "phone": None,
        "tracking_number": None,
    }
    assert moved.to_dict()["address"]["city"] == "Paris"
    assert set(moved.to_dict()["address"]) == {
        "city",
        "country",
        "line1",
        "line2",
        "postal_code",
        "state",
    }


def test_listing_payment_methods_of_another_type_lists_none(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})

    listed = client.v1.payment_methods.list(params={"customer": customer.id, "type": "sepa_debit"})

    assert listed.data == []


def test_payment_methods_are_listed_by_allow_redisplay(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    shown = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.payment_methods.attach("pm_card_amex", params={"customer": customer.id})
    client.v1.payment_methods.update(shown.id, params={"allow_redisplay": "always"})

    listed = client.v1.customers.payment_methods.list(
        customer.id, params={"allow_redisplay": "always"}
    )

    assert [method.id for method in listed.data] == [shown.id]


def test_charges_are_listed_by_transfer_group(client: stripe.StripeClient) -> None:
    grouped = pay(client, transfer_group="order_17")
    pay(client)

    listed = client.v1.charges.list(params={"transfer_group": "order_17"})

    assert [charge.id for charge in listed.data] == [grouped.latest_charge]
