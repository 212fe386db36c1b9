"""Webhooks about PaymentIntents that do not decide a payment (canceled, processing), about
refunds seen from their charge (charge.refund.updated), and about stored cards and customers
(payment_method.detached / .updated, customer.deleted), on both databases.

Each event is the emulator's own when it emits one; otherwise it is built from the real object
retrieved through the SDK and signed, as Stripe would deliver it."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs
from webhook_helpers import (  # noqa: F401 (fixtures)
    deliver,
    event_of,
    intent_events,
    intent_for,
    lose_stripe_answers,
    pay_for_plan,
    settings,
    smtp,
    stripe_client,
)

from payment_lib import Actor, ProviderUnavailable

EMAIL = "ada@example.com"
THREE_D_SECURE = "pm_card_threeDSecure2Required"


def rows(payments, sql):
    with payments.database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def pay(payments, method="pm_card_visa", **extra):
    return payments.pay(
        user_id=str(uuid.uuid4()),
        amount="20.00",
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        customer_email=EMAIL,
        return_url="https://shop.example/return",
        **extra,
    )


def pending_payment(payments, emulator, method="pm_card_visa"):
    """A payment whose PaymentIntent Stripe made but whose answer was lost: unknown."""
    lose_stripe_answers(emulator)
    with pytest.raises(ProviderUnavailable):
        pay(payments, method)
    emulator.faults.clear()
    [payment_id] = [r[0] for r in rows(payments, "SELECT id FROM payments")]
    return payments.get_payment(payment_id)


def process(payments, *events):
    for event in events:
        deliver(payments, event)
    payments.process_webhooks()


def status_of(payments, event_id):
    [event] = [e for e in payments.list_webhook_events() if e.stripe_event_id == event_id]
    return event.status


# PaymentIntents: canceled, processing -------------------------------------------------------


@pytest.mark.emulator_only
def test_a_canceled_payment_intent_cancels_a_payment_waiting_for_three_d_secure(
    payments, stripe_emulator, stripe_target
):
    payment = pay(payments, THREE_D_SECURE)
    assert payment.status == "requires_action"
    stripe_client(stripe_target).v1.payment_intents.cancel(payment.stripe_transaction_id)
    [canceled] = intent_events(
        stripe_emulator, payment.stripe_transaction_id, "payment_intent.canceled"
    )

    process(payments, canceled, canceled)

    assert payments.get_payment(payment.id).status == "canceled"
    assert status_of(payments, canceled["id"]) == "processed"


@pytest.mark.emulator_only
def test_a_canceled_payment_intent_cancels_a_payment_whose_answer_was_lost(
    payments, stripe_emulator, stripe_target
):
    payment = pending_payment(payments, stripe_emulator, THREE_D_SECURE)
    intent = intent_for(stripe_emulator, payment.id)
    stripe_client(stripe_target).v1.payment_intents.cancel(intent["id"])
    [canceled] = intent_events(stripe_emulator, intent["id"], "payment_intent.canceled")

    process(payments, canceled)

    after = payments.get_payment(payment.id)
    assert (after.status, after.stripe_transaction_id) == ("canceled", intent["id"])


@pytest.mark.emulator_only
def test_payment_intent_processing_records_the_intent_and_changes_nothing_else(
    payments, stripe_emulator, stripe_target
):
    payment = pending_payment(payments, stripe_emulator)
    intent_id = intent_for(stripe_emulator, payment.id)["id"]
    intent = stripe_client(stripe_target).v1.payment_intents.retrieve(intent_id).to_dict()
    processing = event_of("payment_intent.processing", {**intent, "status": "processing"})

    process(payments, processing)

    after = payments.get_payment(payment.id)
    assert (after.status, after.stripe_transaction_id, after.error) == ("unknown", intent_id, None)
    assert status_of(payments, processing["id"]) == "processed"
    assert rows(payments, "SELECT count(*) FROM notifications") == [(0,)]


def test_payment_intent_processing_after_success_changes_nothing(payments, stripe_target):
    payment = pay(payments)
    intent = (
        stripe_client(stripe_target)
        .v1.payment_intents.retrieve(payment.stripe_transaction_id)
        .to_dict()
    )

    process(payments, event_of("payment_intent.processing", {**intent, "status": "processing"}))

    assert payments.get_payment(payment.id) == payment


# charge.refund.updated ----------------------------------------------------------------------


@pytest.mark.emulator_only
def test_charge_refund_updated_to_failed_gives_the_refund_back_to_the_payment(
    payments, stripe_emulator
):
    payment = pay(payments, "pm_card_refundFail")
    refund = payments.refund(payment.id, actor=Actor.admin("ada"), amount="5.00")
    [updated] = stripe_emulator.events("charge.refund.updated")  # alone: no refund.* event

    process(payments, updated, updated)

    after = payments.get_payment(payment.id)
    assert (after.status, after.amount_refunded.amount) == ("succeeded", "0.00")
    assert payments.get_refund(refund.id).status == "failed"
    assert status_of(payments, updated["id"]) == "processed"


# Stored cards and customers -----------------------------------------------------------------


@pytest.fixture
def subscribed(payments):
    """A subscription whose renewals are charged to a card the library attached at Stripe."""
    paid = pay_for_plan(payments)
    return payments.change_payment_method(paid.subscription_id, "pm_card_mastercard")


def card_of(payments, subscription_id):
    """The stored card a subscription's renewals go to: (stripe id, customer), or None."""
    with payments.database.unit_of_work() as uow:
        subscription = uow.subscriptions.get(subscription_id)
        method_id = subscription.payment_method_id
        method = uow.payment_methods.get(method_id) if method_id else None
        return (method.stripe_payment_method_id, method.stripe_customer_id) if method else None


def stored_card(payments, stripe_id):
    """brand, last4, exp_month, exp_year, customer, and whether it is detached."""
    with payments.database.unit_of_work() as uow:
        m = uow.payment_methods.by_stripe_id(stripe_id)
        return (
            m.card_brand,
            m.last4,
            m.exp_month,
            m.exp_year,
            m.stripe_customer_id,
            m.detached_at is not None,
        )


def renewal_skipped(payments, subscription):
    """Whether a billing run at the renewal date leaves the subscription alone, for lack of a
    usable saved card."""
    with capture_logs() as logs:
        report = payments.run_billing(now=subscription.next_billing_date)
    said = [e["event"] for e in logs if e.get("subscription_id") == str(subscription.id)]
    return report.charged == [] and any("saved card" in line for line in said)


@pytest.mark.emulator_only
def test_a_detached_card_is_no_longer_charged_for_renewals(
    payments, subscribed, stripe_emulator, stripe_target
):
    card, _customer = card_of(payments, subscribed.id)
    stripe_client(stripe_target).v1.payment_methods.detach(card)
    [detached] = stripe_emulator.events("payment_method.detached")

    process(payments, detached, detached)

    assert card_of(payments, subscribed.id) is None
    assert stored_card(payments, card)[-1] is True  # detached_at is set
    assert status_of(payments, detached["id"]) == "processed"
    assert payments.get_subscription(subscribed.id).status == "active"
    assert renewal_skipped(payments, subscribed)


@pytest.mark.emulator_only
def test_a_new_card_after_a_detach_resumes_renewals(
    payments, subscribed, stripe_emulator, stripe_target
):
    card, _customer = card_of(payments, subscribed.id)
    stripe_client(stripe_target).v1.payment_methods.detach(card)
    process(payments, *stripe_emulator.events("payment_method.detached"))

    payments.change_payment_method(subscribed.id, "pm_card_visa")
    report = payments.run_billing(now=subscribed.next_billing_date)

    assert [p.status for p in report.charged] == ["succeeded"]


@pytest.mark.emulator_only
def test_a_late_charge_event_does_not_give_a_detached_card_back_to_the_subscription(
    payments, subscribed, stripe_emulator, stripe_target
):
    """The renewal's answer is lost; its payment_intent.succeeded (no card in it) is applied,
    the card is detached, then the renewal's charge.succeeded (which carries the card) comes."""
    lose_stripe_answers(stripe_emulator)
    payments.run_billing(now=subscribed.next_billing_date)
    stripe_emulator.faults.clear()
    [renewal] = [p for p in payments.list_payments(subscribed.user_id) if p.status == "unknown"]
    intent = intent_for(stripe_emulator, renewal.id)
    process(payments, *intent_events(stripe_emulator, intent["id"], "payment_intent.succeeded"))
    card, _customer = card_of(payments, subscribed.id)
    stripe_client(stripe_target).v1.payment_methods.detach(card)
    process(payments, *stripe_emulator.events("payment_method.detached"))

    process(payments, *intent_events(stripe_emulator, intent["id"], "charge.succeeded"))

    assert payments.get_payment(renewal.id).status == "succeeded"
    assert card_of(payments, subscribed.id) is None


@pytest.mark.emulator_only
def test_a_card_updated_at_stripe_keeps_its_new_expiry(
    payments, subscribed, stripe_emulator, stripe_target
):
    card, _customer = card_of(payments, subscribed.id)
    stripe_client(stripe_target).v1.payment_methods.update(
        card, params={"card": {"exp_month": 4, "exp_year": 2039}}
    )
    [updated] = stripe_emulator.events("payment_method.updated")

    process(payments, updated, updated)

    assert stored_card(payments, card)[2:4] == (4, 2039)
    assert status_of(payments, updated["id"]) == "processed"


def test_an_updated_card_keeps_its_new_expiry_brand_and_last4(payments, subscribed, stripe_target):
    """The card network's updater replaced the card (built from the real PaymentMethod: the
    API cannot change a card's number); two updates, the older delivered last."""
    card, _customer = card_of(payments, subscribed.id)
    method = stripe_client(stripe_target).v1.payment_methods.retrieve(card).to_dict()
    year = method["card"]["exp_year"] + 3
    renewed = {**method, "card": {**method["card"], "exp_month": 4, "exp_year": year}}
    replaced = {**renewed, "card": {**renewed["card"], "brand": "visa", "last4": "4242"}}
    now = int(time.time())
    earlier = event_of("payment_method.updated", renewed, created=now - 60)
    later = event_of("payment_method.updated", replaced, created=now)

    process(payments, later, earlier, later)  # the older update comes last: it changes nothing

    assert stored_card(payments, card)[:4] == ("visa", "4242", 4, year)
    assert status_of(payments, earlier["id"]) == "processed"


def test_an_update_of_a_card_we_do_not_store_changes_nothing(payments, stripe_target):
    method = stripe_client(stripe_target).v1.payment_methods.retrieve("pm_card_visa").to_dict()

    process(payments, event_of("payment_method.updated", method))

    assert rows(payments, "SELECT count(*) FROM payment_methods") == [(0,)]


@pytest.mark.emulator_only
def test_a_deleted_customer_s_cards_are_no_longer_charged_for_renewals(
    payments, subscribed, stripe_emulator, stripe_target
):
    card, customer_id = card_of(payments, subscribed.id)
    stripe_client(stripe_target).v1.customers.delete(customer_id)
    [deleted] = stripe_emulator.events("customer.deleted")

    with capture_logs() as logs:
        process(payments, deleted, deleted)

    assert card_of(payments, subscribed.id) is None
    assert rows(
        payments, "SELECT count(*) FROM payment_methods WHERE stripe_customer_id IS NOT NULL"
    ) == [(0,)]
    assert stored_card(payments, card)[4:] == (None, True)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e.get("stripe_customer_id") for e in warnings] == [customer_id]
    assert status_of(payments, deleted["id"]) == "processed"
    assert renewal_skipped(payments, subscribed)
