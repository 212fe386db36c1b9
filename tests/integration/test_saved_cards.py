"""A user's saved cards: listed with safe details only, one made the default (renewals and
Stripe's invoice default), one removed (detached at Stripe) unless a live subscription uses it."""

from __future__ import annotations

import json
import uuid

import pytest
from subscription_helpers import subscribe

from payment_lib import InvalidRequest, NotFound, contains_card_number

FIELDS = {
    "id",
    "user_id",
    "brand",
    "last4",
    "exp_month",
    "exp_year",
    "default",
    "subscriptions",
    "removed_at",
}


def two_cards(payments, user_id):
    """A subscription first paid with a visa, renewing with a mastercard: (visa, mastercard)."""
    subscription = subscribe(payments, user_id)
    payments.change_payment_method(subscription.id, "pm_card_mastercard")
    cards = {c.brand: c for c in payments.list_cards(user_id)}
    return subscription, cards["visa"], cards["mastercard"]


def test_a_users_saved_cards_are_listed_with_safe_details_only(payments, plan, user_id):
    subscription = subscribe(payments, user_id)

    [card] = payments.list_cards(user_id)

    assert card.id.startswith("pm_") and card.user_id == uuid.UUID(user_id)
    assert (card.brand, card.last4) == ("visa", "4242")
    assert isinstance(card.exp_month, int) and isinstance(card.exp_year, int)
    assert card.default is True and card.subscriptions == [subscription.id]
    assert card.removed_at is None
    assert set(card.to_dict()) == FIELDS
    assert not contains_card_number(json.dumps(card.to_dict()))
    assert payments.list_cards(str(uuid.uuid4())) == []


def test_listing_cards_of_a_bad_user_id_is_refused(payments):
    with pytest.raises(InvalidRequest):
        payments.list_cards("not-a-uuid")


def test_the_card_renewals_go_to_is_the_default(payments, plan, user_id):
    subscription, visa, mastercard = two_cards(payments, user_id)
    assert (visa.default, visa.subscriptions) == (False, [])
    assert (mastercard.default, mastercard.subscriptions) == (True, [subscription.id])


@pytest.mark.emulator_only
def test_setting_the_default_moves_renewals_and_stripes_invoice_default(
    payments, plan, user_id, stripe_emulator
):
    subscription, visa, _ = two_cards(payments, user_id)

    chosen = payments.set_default_card(user_id, visa.id)

    assert chosen.id == visa.id
    assert (chosen.default, chosen.subscriptions) == (True, [subscription.id])
    assert [c.id for c in payments.list_cards(user_id) if c.default] == [visa.id]
    [customer] = stripe_emulator.objects("customer")
    assert customer["invoice_settings"]["default_payment_method"] == visa.id
    report = payments.run_billing(now=subscription.next_billing_date)
    [renewal] = report.charged
    intent = stripe_emulator.get(renewal.stripe_transaction_id)
    assert intent["payment_method"] == visa.id


def test_setting_a_default_again_is_harmless(payments, plan, user_id):
    _, visa, mastercard = two_cards(payments, user_id)
    payments.set_default_card(user_id, visa.id)
    payments.set_default_card(user_id, mastercard.id)
    again = payments.set_default_card(user_id, visa.id)
    assert again.default
    assert [c.id for c in payments.list_cards(user_id) if c.default] == [visa.id]


def test_another_users_card_cannot_be_made_the_default(payments, plan, user_id):
    subscribe(payments, user_id)
    other = str(uuid.uuid4())
    [theirs] = [c.id for c in payments.list_cards(subscribe(payments, other).user_id)]
    before = payments.list_cards(user_id)

    with pytest.raises(NotFound):
        payments.set_default_card(user_id, theirs)

    assert payments.list_cards(user_id) == before


@pytest.mark.parametrize("method", ["card_visa", "", None, 42, "pm_nosuchcard"])
def test_a_bad_default_card_is_refused_and_changes_nothing(payments, plan, user_id, method):
    subscribe(payments, user_id)
    before = payments.list_cards(user_id)
    with pytest.raises((InvalidRequest, NotFound)):
        payments.set_default_card(user_id, method)
    assert payments.list_cards(user_id) == before


@pytest.mark.emulator_only
def test_removing_a_card_detaches_it_at_stripe_and_hides_it(
    payments, plan, user_id, stripe_emulator
):
    _, visa, mastercard = two_cards(payments, user_id)

    removed = payments.remove_card(visa.id)

    assert removed.id == visa.id and removed.removed_at is not None
    assert stripe_emulator.get(visa.id)["customer"] is None
    assert [c.id for c in payments.list_cards(user_id)] == [mastercard.id]
    assert payments.remove_card(visa.id) == removed  # again: nothing more happens
    assert len(stripe_emulator.events("payment_method.detached")) == 1


@pytest.mark.emulator_only
def test_a_card_a_live_subscription_renews_with_cannot_be_removed(
    payments, plan, user_id, stripe_emulator
):
    subscription = subscribe(payments, user_id)
    payments.pause_subscription(subscription.id)  # paused is live too
    [card] = payments.list_cards(user_id)

    with pytest.raises(InvalidRequest, match="subscription"):
        payments.remove_card(card.id)

    assert payments.list_cards(user_id) == [card]
    assert stripe_emulator.get(card.id)["customer"] is not None


def test_the_card_of_an_ended_subscription_can_be_removed(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    payments.cancel_subscription(subscription.id)
    [card] = payments.list_cards(user_id)

    removed = payments.remove_card(card.id)

    assert removed.removed_at is not None and payments.list_cards(user_id) == []
    with pytest.raises(InvalidRequest):
        payments.set_default_card(user_id, card.id)


@pytest.mark.parametrize("method", ["pm_nosuchcard", "visa", None])
def test_removing_an_unknown_card_is_refused(payments, method):
    with pytest.raises((NotFound, InvalidRequest)):
        payments.remove_card(method)
