"""A plain payment's request path builds no ORM object (issue 17, P1).

The row transaction 1 inserts is one Core statement; the ORM ``Payment`` built beside it only
carried its values to the Stripe call and the result, at ~35 µs of SQLAlchemy's attribute
instrumentation per payment. What the caller gets back must be what is stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from payment_lib.db.tables import Payment

RETURN_URL = "https://shop.example/return"


@contextmanager
def orm_payments_built() -> Iterator[list[str]]:
    """Every ``Payment`` the block builds (``Payment(...)``) or loads from the database."""
    made: list[str] = []

    def built(_target, _args, _kwargs) -> None:
        made.append("built")

    def loaded(_target, _context) -> None:
        made.append("loaded")

    sa.event.listen(Payment, "init", built)
    sa.event.listen(Payment, "load", loaded)
    try:
        yield made
    finally:
        sa.event.remove(Payment, "init", built)
        sa.event.remove(Payment, "load", loaded)


@pytest.mark.parametrize(
    ("method", "email", "status"),
    [
        ("pm_card_visa", None, "succeeded"),
        ("pm_card_visa", "buyer@example.com", "succeeded"),  # an email queued with the outcome
        ("pm_card_chargeDeclined", None, "failed"),
        ("pm_card_threeDSecure2Required", None, "requires_action"),
    ],
)
def test_a_plain_payment_builds_no_orm_row_and_returns_what_is_stored(
    payments, user_id, method, email, status
):
    extra = {"customer_email": email} if email else {}
    with orm_payments_built() as made:
        result = payments.pay(
            user_id=user_id,
            amount="20.00",
            currency="usd",
            payment_method=method,
            idempotency_key=str(uuid.uuid4()),
            return_url=RETURN_URL,
            metadata={"order": "1042"},
            description="Order 1042",
            **extra,
        )

    assert made == []
    assert result.status == status
    stored = payments.get_payment(result.id)
    for field in ("id", "user_id", "status", "amount", "amount_refunded", "amount_lost"):
        assert getattr(result, field) == getattr(stored, field), field
    for field in ("stripe_transaction_id", "redirect_url", "subscription_id", "plan_id"):
        assert getattr(result, field) == getattr(stored, field), field
    assert result.error == stored.error
    assert result.dispute_status is None and not result.replayed
    assert result.created_at.replace(tzinfo=None) == stored.created_at.replace(tzinfo=None)


def test_a_replay_still_reads_the_stored_row(payments, user_id):
    key = str(uuid.uuid4())
    fields = dict(
        user_id=user_id,
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key=key,
    )
    first = payments.pay(**fields)
    with orm_payments_built() as made:
        again = payments.pay(**fields)

    assert "loaded" in made
    assert again.replayed and again.id == first.id and again.status == "succeeded"


def test_an_inserted_payment_has_every_column_of_the_orm_row(user_id):
    from payment_lib.services.payment_requests import PaymentRequest
    from payment_lib.services.payment_rows import InsertedPayment
    from payment_lib.services.payments import _pending

    request = PaymentRequest.build(
        user_id=user_id,
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key="k-1",
    )
    row = InsertedPayment(_pending(request, {}, dt.datetime.now(dt.UTC), None))

    missing = [c.key for c in Payment.__table__.columns if not hasattr(row, c.key)]
    assert missing == []
