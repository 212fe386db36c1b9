"""The Stripe Customer's email follows the one the host last gave, on both databases.

An email change is sent with an idempotency key. A key that names only the new address would
make X, then Y, then X again within Stripe's 24 hours replay the first answer: Stripe would keep
Y while our record says X (our record and Stripe's diverged).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import stripe


def _stripe_email(stripe_target, customer_id):
    client = stripe.StripeClient(
        stripe_target.api_key,
        base_addresses={"api": stripe_target.api_base} if stripe_target.api_base else {},
        max_network_retries=0,
    )
    return client.v1.customers.retrieve(customer_id).email


def _buy(payments, user_id, number, email):
    """Buy a plan of its own (one live subscription per plan) as ``email``: each purchase
    brings the Customer's email up to date."""
    plan_id = f"plan-{number}"
    payments.add_plan(plan_id, name=plan_id, amount="5.00", currency="usd", interval="month")
    return payments.pay(
        user_id=user_id,
        amount="5.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key=str(uuid.uuid4()),
        plan_id=plan_id,
        customer_email=email,
    )


def _ours(payments):
    """The one customer row: its Stripe Customer id and the email we recorded."""
    with payments.database.engine.connect() as connection:
        return connection.execute(sa.text("SELECT stripe_customer_id, email FROM customers")).one()


def test_email_changed_back_reaches_stripe(payments, user_id, stripe_target):
    for number, email in enumerate(("x@example.com", "y@example.com", "x@example.com")):
        assert _buy(payments, user_id, number, email).status == "succeeded"

    customer_id, ours = _ours(payments)
    assert ours == "x@example.com"
    assert _stripe_email(stripe_target, customer_id) == "x@example.com"


def test_email_changed_back_and_forth_twice_reaches_stripe(payments, user_id, stripe_target):
    emails = ("x@example.com", "y@example.com", "x@example.com", "y@example.com")
    for number, email in enumerate(emails):
        assert _buy(payments, user_id, number, email).status == "succeeded"

    customer_id, ours = _ours(payments)
    assert ours == "y@example.com"
    assert _stripe_email(stripe_target, customer_id) == "y@example.com"
