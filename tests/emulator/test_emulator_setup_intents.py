"""SetupIntents: a card saved for off-session payments without a charge, declines failing the
setup with last_setup_error, 3-D Secure cards requiring action, confirm, cancel and lists."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from emulator_helpers import RETURN_URL

NO_REDIRECTS = {"enabled": True, "allow_redirects": "never"}


def set_up(
    client: stripe.StripeClient,
    payment_method: str = "pm_card_visa",
    *,
    key: str | None = None,
    **extra: Any,
) -> stripe.SetupIntent:
    """Create and confirm an off-session SetupIntent for a new customer (``extra`` overrides)."""
    params: dict[str, Any] = {
        "customer": client.v1.customers.create().id,
        "payment_method": payment_method,
        "usage": "off_session",
        "confirm": True,
        "automatic_payment_methods": NO_REDIRECTS,
        **extra,
    }
    return client.v1.setup_intents.create(
        params=params,  # type: ignore[arg-type]
        options={"idempotency_key": key} if key else None,
    )


def test_a_good_card_is_set_up_and_attached_to_the_customer_without_a_charge(
    client: stripe.StripeClient,
) -> None:
    setup = set_up(client)

    method = client.v1.payment_methods.retrieve(str(setup.payment_method))
    assert (setup.status, setup.usage, setup.last_setup_error, method.customer) == (
        "succeeded",
        "off_session",
        None,
        setup.customer,
    )
    assert client.v1.charges.list().data == []


def test_a_card_needing_authentication_on_setup_requires_action_with_a_redirect(
    client: stripe.StripeClient,
) -> None:
    setup = client.v1.setup_intents.create(
        params={
            "customer": client.v1.customers.create().id,
            "payment_method": "pm_card_authenticationRequiredOnSetup",
            "confirm": True,
            "return_url": RETURN_URL,
        }
    )
    assert setup.status == "requires_action"
    assert setup.next_action is not None and setup.next_action.type == "redirect_to_url"


@pytest.mark.emulator_only
def test_an_authenticated_setup_succeeds_and_later_off_session_payments_need_no_authentication(
    client: stripe.StripeClient, stripe_emulator: Any
) -> None:
    setup = set_up(client, "pm_card_authenticationRequiredOnSetup")
    assert (setup.status, setup.next_action.type) == ("requires_action", "use_stripe_sdk")  # type: ignore[union-attr]

    stripe_emulator.authenticate(setup.id)

    done = client.v1.setup_intents.retrieve(setup.id)
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": str(done.customer),
            "payment_method": str(done.payment_method),
            "confirm": True,
            "off_session": True,
        }
    )
    assert (done.status, intent.status) == ("succeeded", "succeeded")


@pytest.mark.emulator_only
def test_failed_authentication_leaves_the_setup_needing_a_payment_method(
    client: stripe.StripeClient, stripe_emulator: Any
) -> None:
    setup = set_up(client, "pm_card_authenticationRequired")

    stripe_emulator.authenticate(setup.id, success=False)

    failed = client.v1.setup_intents.retrieve(setup.id)
    assert (failed.status, failed.payment_method, failed.last_setup_error.code) == (  # type: ignore[union-attr]
        "requires_payment_method",
        None,
        "setup_intent_authentication_failure",
    )


@pytest.mark.parametrize(
    ("payment_method", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_a_declining_card_fails_the_setup_with_a_card_error_and_last_setup_error(
    client: stripe.StripeClient, payment_method: str, code: str, decline_code: str
) -> None:
    with pytest.raises(stripe.CardError) as raised:
        set_up(client, payment_method)

    error = (raised.value.json_body or {})["error"]
    stored = client.v1.setup_intents.retrieve(error["setup_intent"]["id"])
    assert (raised.value.http_status, error["code"], error["decline_code"]) == (
        402,
        code,
        decline_code,
    )
    assert (stored.status, stored.payment_method, stored.last_setup_error.code) == (  # type: ignore[union-attr]
        "requires_payment_method",
        None,
        code,
    )


def test_a_card_that_declines_only_charges_sets_up_fine(client: stripe.StripeClient) -> None:
    assert set_up(client, "pm_card_chargeCustomerFail").status == "succeeded"


def test_the_same_idempotency_key_gives_the_same_setup_intent(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create().id

    first = set_up(client, key="trial-setup-1", customer=customer)
    again = set_up(client, key="trial-setup-1", customer=customer)

    assert (again.id, len(client.v1.setup_intents.list().data)) == (first.id, 1)


def test_confirming_without_return_url_or_no_redirects_is_refused(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        set_up(client, automatic_payment_methods=None)

    assert raised.value.param == "return_url"  # type: ignore[attr-defined]


def test_a_setup_intent_created_unconfirmed_is_confirmed_later(
    client: stripe.StripeClient,
) -> None:
    setup = client.v1.setup_intents.create(params={"payment_method": "pm_card_visa"})
    assert setup.status == "requires_confirmation"

    confirmed = client.v1.setup_intents.confirm(setup.id, params={"return_url": RETURN_URL})

    assert confirmed.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.setup_intents.confirm(setup.id, params={"return_url": RETURN_URL})
    assert raised.value.code == "setup_intent_unexpected_state"


def test_a_setup_intent_is_canceled_before_it_succeeds_and_not_after(
    client: stripe.StripeClient,
) -> None:
    waiting = client.v1.setup_intents.create()
    canceled = client.v1.setup_intents.cancel(
        waiting.id, params={"cancellation_reason": "abandoned"}
    )
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.setup_intents.cancel(set_up(client).id)
    assert raised.value.code == "setup_intent_unexpected_state"


def test_setup_intents_are_listed_by_customer(client: stripe.StripeClient) -> None:
    mine = set_up(client)
    set_up(client)

    listed = client.v1.setup_intents.list(params={"customer": str(mine.customer)})

    assert [s.id for s in listed.data] == [mine.id]


def test_an_unknown_setup_intent_is_a_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.setup_intents.retrieve("seti_nope")

    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
