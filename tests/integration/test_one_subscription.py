"""One live subscription per user and plan: a purchase in progress counts, the database
enforces it, and a second payment that succeeds anyway is refunded automatically."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs
from test_payments import authenticate
from webhook_helpers import deliver, intent_events, settings, smtp, stripe_client  # noqa: F401

from payment_lib import InvalidRequest
from payment_lib.db.tables import Subscription

pytestmark = pytest.mark.emulator_only

RETURN_URL = "https://shop.example/return"


@pytest.fixture
def plan(payments):
    return payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )


def buy(payments, user_id, method="pm_card_visa", **extra):
    return payments.pay(
        user_id=user_id,
        amount="9.99",
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        plan_id="basic-monthly",
        customer_email="ada@example.com",
        **extra,
    )


def test_a_purchase_still_authenticating_blocks_a_second_one_of_the_same_plan(
    payments, plan, user_id, stripe_emulator
):
    waiting = buy(payments, user_id, "pm_card_threeDSecure2Required", return_url=RETURN_URL)
    assert waiting.status == "requires_action"

    with pytest.raises(InvalidRequest, match="in progress") as caught:
        buy(payments, user_id)

    assert caught.value.param == "plan_id"
    assert stripe_emulator.count("payment_intent") == 1
    authenticate(waiting.redirect_url, "complete")
    assert payments.refresh_payment(waiting.id).status == "succeeded"
    assert [s.status for s in payments.list_subscriptions(user_id)] == ["active"]


def test_the_database_refuses_a_second_live_subscription_to_one_plan(payments, plan, user_id):
    first = buy(payments, user_id)
    [live] = payments.list_subscriptions(user_id)
    now = dt.datetime.now(dt.UTC)
    second = {
        "id": uuid.uuid4(),
        "user_id": uuid.UUID(user_id),
        "plan_id": "basic-monthly",
        "status": "past_due",
        "start_date": now,
        "next_billing_date": now,
        "cancel_at_period_end": False,
        "failed_attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    with pytest.raises(sa.exc.IntegrityError), payments.database.engine.begin() as connection:
        connection.execute(sa.insert(Subscription.__table__).values(**second))
    payments.cancel_subscription(live.id)
    with payments.database.engine.begin() as connection:  # an ended one does not count
        connection.execute(sa.insert(Subscription.__table__).values(**second))
    assert first.subscription_id == live.id


def test_a_second_payment_that_succeeds_anyway_is_refunded_with_its_own_key(
    payments, plan, user_id, stripe_emulator, stripe_target
):
    abandoned = buy(payments, user_id, "pm_card_threeDSecure2Required", return_url=RETURN_URL)
    authenticate(abandoned.redirect_url, "fail")
    assert payments.refresh_payment(abandoned.id).status == "failed"
    kept = buy(payments, user_id)  # the user buys again, with another card
    # Later the abandoned PaymentIntent is paid after all (e.g. on Stripe's hosted page).
    stripe_client(stripe_target).v1.payment_intents.confirm(
        abandoned.stripe_transaction_id,
        params={"payment_method": "pm_card_visa", "return_url": RETURN_URL},
    )
    [succeeded] = intent_events(
        stripe_emulator, abandoned.stripe_transaction_id, "payment_intent.succeeded"
    )

    with capture_logs() as logs:
        deliver(payments, succeeded)
        payments.process_webhooks()
        payments.run_worker_once()

    [refund] = payments.list_refunds(abandoned.id)
    assert (refund.status, refund.amount.amount, refund.reason) == (
        "succeeded",
        "9.99",
        "duplicate",
    )
    assert [s.id for s in payments.list_subscriptions(user_id)] == [kept.subscription_id]
    assert payments.get_payment(kept.id).status == "succeeded"
    assert any(e["event"] == "second live subscription refused" for e in logs)
    payments.run_worker_once()
    assert len(payments.list_refunds(abandoned.id)) == 1
