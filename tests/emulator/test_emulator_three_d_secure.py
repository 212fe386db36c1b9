"""3-D Secure: requires_action, the emulator's authentication page, off-session refusals."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from emulator_helpers import RETURN_URL, http_call, pay


def authenticate(client: stripe.StripeClient, intent: stripe.PaymentIntent, action: str) -> str:
    """Complete or fail the 3-D Secure page as a script would; returns the redirect target."""
    url = intent.next_action.redirect_to_url.url  # type: ignore[union-attr]
    status, headers, _ = http_call("GET", f"{url}&action={action}")
    assert status == 302
    return headers["Location"]


@pytest.mark.parametrize(
    "payment_method",
    [
        "pm_card_authenticationRequired",
        "pm_card_threeDSecure2Required",
        "pm_card_authenticationRequiredOnSetup",
    ],
)
def test_a_card_needing_authentication_requires_action_with_a_redirect(
    client: stripe.StripeClient, payment_method: str
) -> None:
    intent = pay(client, payment_method)

    assert (
        intent.status,
        intent.next_action.type,
        intent.next_action.redirect_to_url.return_url,
    ) == (  # type: ignore[union-attr]
        "requires_action",
        "redirect_to_url",
        RETURN_URL,
    )


@pytest.mark.emulator_only
def test_the_redirect_points_at_the_emulator(
    client: stripe.StripeClient, stripe_emulator: Any
) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")

    assert intent.next_action.redirect_to_url.url.startswith(stripe_emulator.url)  # type: ignore[union-attr]


@pytest.mark.emulator_only
def test_the_authentication_page_offers_complete_and_fail(client: stripe.StripeClient) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")
    _, _, body = http_call("GET", intent.next_action.redirect_to_url.url)  # type: ignore[union-attr]
    page = body.decode()

    assert "Complete" in page and "Fail" in page


@pytest.mark.emulator_only
def test_completing_authentication_succeeds_the_payment(client: stripe.StripeClient) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")

    authenticate(client, intent, "complete")

    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


@pytest.mark.emulator_only
def test_completing_authentication_redirects_to_the_return_url_with_the_intent(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")

    location = authenticate(client, intent, "complete")

    query = parse_qs(urlsplit(location).query)
    assert location.startswith(RETURN_URL)
    assert (query["payment_intent"], query["payment_intent_client_secret"]) == (
        [intent.id],
        [intent.client_secret],
    )


@pytest.mark.emulator_only
def test_failing_authentication_returns_the_intent_to_requires_payment_method(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_authenticationRequired")

    authenticate(client, intent, "fail")

    fetched = client.v1.payment_intents.retrieve(intent.id)
    assert (fetched.status, fetched.last_payment_error.code) == (  # type: ignore[union-attr]
        "requires_payment_method",
        "payment_intent_authentication_failure",
    )


@pytest.mark.emulator_only
def test_a_card_declining_after_authentication_is_declined_once_authenticated(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds")

    authenticate(client, intent, "complete")

    fetched = client.v1.payment_intents.retrieve(intent.id)
    assert (fetched.status, fetched.last_payment_error.decline_code) == (  # type: ignore[union-attr]
        "requires_payment_method",
        "insufficient_funds",
    )


@pytest.mark.parametrize(
    "payment_method",
    ["pm_card_authenticationRequired", "pm_card_authenticationRequiredOnSetup"],
)
def test_off_session_payment_with_a_card_needing_authentication_is_declined(
    client: stripe.StripeClient, payment_method: str
) -> None:
    customer = client.v1.customers.create()
    method = client.v1.payment_methods.attach(payment_method, params={"customer": customer.id})

    with pytest.raises(stripe.CardError) as caught:
        pay(client, method.id, customer=customer.id, off_session=True)

    assert (caught.value.code, caught.value.error.decline_code, caught.value.user_message) == (  # type: ignore[union-attr]
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    )


def test_off_session_decline_leaves_the_intent_requiring_a_payment_method(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    method = client.v1.payment_methods.attach(
        "pm_card_authenticationRequired", params={"customer": customer.id}
    )

    with pytest.raises(stripe.CardError) as caught:
        pay(client, method.id, customer=customer.id, off_session=True)

    intent = client.v1.payment_intents.retrieve(caught.value.error.payment_intent["id"])  # type: ignore[union-attr,index]
    assert intent.status == "requires_payment_method"


@pytest.mark.emulator_only
def test_a_card_set_up_on_session_pays_off_session_without_authentication(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    method = client.v1.payment_methods.attach(
        "pm_card_authenticationRequiredOnSetup", params={"customer": customer.id}
    )
    first = pay(client, method.id, customer=customer.id, setup_future_usage="off_session")
    authenticate(client, first, "complete")

    later = pay(client, method.id, customer=customer.id, off_session=True)

    assert later.status == "succeeded"


def test_without_redirects_authentication_is_left_to_stripe_js(
    client: stripe.StripeClient,
) -> None:
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )

    assert (intent.status, intent.next_action.type) == ("requires_action", "use_stripe_sdk")  # type: ignore[union-attr]


@pytest.mark.emulator_only
def test_the_emulator_api_can_complete_authentication(
    client: stripe.StripeClient, stripe_emulator: Any
) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")

    stripe_emulator.authenticate(intent.id, success=True)

    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


@pytest.mark.emulator_only
def test_the_control_endpoint_can_fail_authentication(
    client: stripe.StripeClient, stripe_emulator: Any
) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")

    http_call(
        "POST",
        f"{stripe_emulator.url}/_emulator/payment_intents/{intent.id}/authenticate",
        b'{"success": false}',
    )

    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


@pytest.mark.emulator_only
def test_with_manual_confirmation_authentication_leads_back_to_the_server(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required", confirmation_method="manual")
    authenticate(client, intent, "complete")

    waiting = client.v1.payment_intents.retrieve(intent.id)
    confirmed = client.v1.payment_intents.confirm(intent.id, params={"return_url": RETURN_URL})

    assert (waiting.status, confirmed.status) == ("requires_confirmation", "succeeded")
