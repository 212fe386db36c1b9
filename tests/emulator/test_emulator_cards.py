"""Every test card of STRIPE_TEST_MODE.md, through the real SDK, with the outcome Stripe gives."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import stripe
from emulator_helpers import pay

SUCCEEDING = ["pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_visa_debit"]


class Decline(NamedTuple):
    payment_method: str
    number: str
    code: str
    decline_code: str
    message: str


DECLINES = [
    Decline(
        "pm_card_visa_chargeDeclined",
        "4000000000000002",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    ),
    Decline(
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        "4000000000009995",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    Decline(
        "pm_card_chargeDeclinedExpiredCard",
        "4000000000000069",
        "expired_card",
        "expired_card",
        "Your card has expired.",
    ),
    Decline(
        "pm_card_chargeDeclinedIncorrectCvc",
        "4000000000000127",
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    Decline(
        "pm_card_chargeDeclinedProcessingError",
        "4000000000000119",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    Decline(
        "pm_card_chargeCustomerFail",
        "4000000000000341",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    ),
    Decline(
        "pm_card_visa_chargeDeclinedLostCard",
        "4000000000009987",
        "card_declined",
        "lost_card",
        "Your card was declined.",
    ),
    Decline(
        "pm_card_visa_chargeDeclinedStolenCard",
        "4000000000009979",
        "card_declined",
        "stolen_card",
        "Your card was declined.",
    ),
]
DECLINE_IDS = [row.payment_method for row in DECLINES]


def declined(client: stripe.StripeClient, payment_method: str) -> stripe.CardError:
    with pytest.raises(stripe.CardError) as caught:
        pay(client, payment_method)
    return caught.value


def card_from_number(client: stripe.StripeClient, number: str) -> str:
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return method.id


@pytest.mark.parametrize("payment_method", SUCCEEDING)
def test_successful_test_card_leaves_the_payment_intent_succeeded(
    client: stripe.StripeClient, payment_method: str
) -> None:
    intent = pay(client, payment_method)

    assert (intent.status, intent.amount_received) == ("succeeded", 2000)


def test_successful_payment_has_a_paid_charge_with_the_card_details(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_visa")

    charge = client.v1.charges.retrieve(str(intent.latest_charge))

    card = charge.payment_method_details.card  # type: ignore[union-attr]
    assert (charge.status, charge.paid, charge.amount, card.brand, card.last4) == (  # type: ignore[union-attr]
        "succeeded",
        True,
        2000,
        "visa",
        "4242",
    )


def test_a_pm_card_alias_creates_a_fresh_payment_method_with_card_details(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_mastercard", expand=["payment_method"])

    method = intent.payment_method
    assert isinstance(method, stripe.PaymentMethod)
    assert method.id.startswith("pm_") and method.id != "pm_card_mastercard"
    assert (method.card.brand, method.card.last4) == ("mastercard", "4444")  # type: ignore[union-attr]


@pytest.mark.parametrize("row", DECLINES, ids=DECLINE_IDS)
def test_declined_card_raises_a_card_error_with_stripes_code_decline_code_and_message(
    client: stripe.StripeClient, row: Decline
) -> None:
    error = declined(client, row.payment_method)

    assert (error.http_status, error.code, error.error.decline_code, error.user_message) == (  # type: ignore[union-attr]
        402,
        row.code,
        row.decline_code,
        row.message,
    )


@pytest.mark.parametrize("row", DECLINES, ids=DECLINE_IDS)
def test_declined_card_leaves_the_payment_intent_waiting_for_a_new_payment_method(
    client: stripe.StripeClient, row: Decline
) -> None:
    error = declined(client, row.payment_method)
    intent_id = error.error.payment_intent["id"]  # type: ignore[union-attr,index]

    intent = client.v1.payment_intents.retrieve(intent_id)

    assert (intent.status, intent.payment_method, intent.last_payment_error.code) == (  # type: ignore[union-attr]
        "requires_payment_method",
        None,
        row.code,
    )


@pytest.mark.parametrize("row", DECLINES, ids=DECLINE_IDS)
def test_declined_card_leaves_a_failed_charge_declined_by_the_issuer(
    client: stripe.StripeClient, row: Decline
) -> None:
    error = declined(client, row.payment_method)

    charge = client.v1.charges.retrieve(str(error.error.charge))  # type: ignore[union-attr]

    assert (charge.status, charge.paid, charge.failure_code, charge.failure_message) == (
        "failed",
        False,
        row.code,
        row.message,
    )
    assert charge.outcome.type == "issuer_declined"  # type: ignore[union-attr]


@pytest.mark.emulator_only
@pytest.mark.parametrize("row", DECLINES, ids=DECLINE_IDS)
def test_declining_card_number_declines_like_its_payment_method_id(
    client: stripe.StripeClient, row: Decline
) -> None:
    error = declined(client, card_from_number(client, row.number))

    assert (error.code, error.error.decline_code) == (row.code, row.decline_code)  # type: ignore[union-attr]


@pytest.mark.emulator_only
@pytest.mark.parametrize(
    ("number", "brand"),
    [("4242424242424242", "visa"), ("5555555555554444", "mastercard"), ("378282246310005", "amex")],
)
def test_succeeding_card_number_pays_with_its_brand(
    client: stripe.StripeClient, number: str, brand: str
) -> None:
    intent = pay(client, card_from_number(client, number), expand=["payment_method"])

    assert (intent.status, intent.payment_method.card.brand) == ("succeeded", brand)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "payment_method",
    ["pm_card_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclined"],
)
def test_aliases_without_the_visa_prefix_are_accepted(
    client: stripe.StripeClient, payment_method: str
) -> None:
    error = declined(client, payment_method)

    assert error.code == "card_declined"


def test_customer_fail_card_attaches_to_a_customer_fine(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "ada@example.com"})

    method = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}
    )

    assert method.customer == customer.id


def test_charging_the_customer_fail_card_of_a_customer_is_declined(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(params={"email": "ada@example.com"})
    method = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}
    )

    with pytest.raises(stripe.CardError) as caught:
        pay(client, method.id, customer=customer.id)

    assert caught.value.code == "card_declined"


@pytest.mark.emulator_only
def test_a_card_number_that_fails_the_luhn_check_is_refused_as_incorrect(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.CardError) as caught:
        card_from_number(client, "4242424242424241")

    assert (caught.value.code, caught.value.param) == ("incorrect_number", "number")


@pytest.mark.emulator_only
def test_a_real_card_number_is_refused_in_test_mode(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        card_from_number(client, "4111111111111111")

    assert caught.value.error.decline_code == "live_mode_test_card"  # type: ignore[union-attr]


def test_radar_blocked_card_is_declined_as_fraudulent(client: stripe.StripeClient) -> None:
    error = declined(client, "pm_card_radarBlock")

    assert (error.code, error.error.decline_code) == ("card_declined", "fraudulent")  # type: ignore[union-attr]
