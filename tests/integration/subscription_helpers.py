"""A paid subscription to basic-monthly (the ``plan`` fixture of conftest.py), for the
subscription feature tests."""

from __future__ import annotations

import uuid

EMAIL = "ada@example.com"


def subscribe(payments, user_id, method="pm_card_visa"):
    """Buy basic-monthly with ``method``: the subscription the payment started."""
    paid = payments.pay(
        user_id=user_id,
        amount="9.99",
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        plan_id="basic-monthly",
        customer_email=EMAIL,
    )
    return payments.get_subscription(paid.subscription_id)
