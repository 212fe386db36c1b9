"""Stripe Customers: one per user, recorded before Stripe is asked, made only for a request
that passed its own checks, the email set by an update (never part of the create)."""

from __future__ import annotations

import uuid

import pytest

from payment_lib import InvalidRequest

pytestmark = pytest.mark.emulator_only


@pytest.fixture
def plan(payments):
    return payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )


def buy(payments, user_id, method="pm_card_visa", email="ada@example.com", amount="9.99"):
    return payments.pay(
        user_id=user_id,
        amount=amount,
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        plan_id="basic-monthly",
        customer_email=email,
    )


def test_a_second_purchase_with_another_email_reuses_the_customer_and_updates_its_email(
    payments, plan, user_id, stripe_emulator
):
    declined = buy(payments, user_id, "pm_card_visa_chargeDeclined", email="old@example.com")
    assert declined.status == "failed"

    bought = buy(payments, user_id, email="new@example.com")

    assert bought.status == "succeeded"
    [customer] = stripe_emulator.objects("customer")
    assert customer["email"] == "new@example.com"
    assert customer["metadata"] == {"user_id": user_id}


def test_a_request_refused_by_its_own_checks_makes_no_customer(
    payments, plan, user_id, stripe_emulator
):
    with pytest.raises(InvalidRequest):
        buy(payments, user_id, amount="10.00")  # not the plan's price

    assert stripe_emulator.count("customer") == 0


def test_two_users_get_two_customers_and_each_keeps_one(payments, plan, stripe_emulator):
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    buy(payments, first)
    buy(payments, second)
    payments.cancel_subscription(payments.list_subscriptions(first)[0].id)
    buy(payments, first)

    owners = sorted(c["metadata"]["user_id"] for c in stripe_emulator.objects("customer"))
    assert owners == sorted([first, second])
