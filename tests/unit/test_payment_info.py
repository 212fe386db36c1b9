"""A payment as callers see it, read from its row: every field, whether the row's attributes
are all loaded (the pay() path) or some were never set (read as the ORM reads them)."""

import datetime as dt
import uuid

from payment_lib.db.tables import Payment
from payment_lib.domain.money import Money
from payment_lib.services.payment_results import FailureInfo, PaymentInfo

NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)


def full_payment(**changes):
    values = dict(
        id=uuid.uuid4(), user_id=uuid.uuid4(), amount=2000, currency="usd", status="failed",
        kind="payment", idempotency_key="k", request_fingerprint="f",
        details={"retry_helps": True}, amount_refunded=500, amount_lost=0, created_at=NOW,
        updated_at=NOW, failure_code="card_declined", failure_message="Declined.",
        stripe_transaction_id="pi_1", redirect_url=None, subscription_id=uuid.uuid4(),
        plan_id="basic", dispute_status="won",
    )
    return Payment(**{**values, **changes})


def test_every_field_of_a_loaded_row():
    payment = full_payment()
    info = PaymentInfo.of(payment, replayed=True)
    assert info == PaymentInfo(
        id=payment.id, user_id=payment.user_id, status="failed", amount=Money(2000, "usd"),
        amount_refunded=Money(500, "usd"), stripe_transaction_id="pi_1", redirect_url=None,
        subscription_id=payment.subscription_id, plan_id="basic",
        error=FailureInfo("card_declined", "Declined.", True), created_at=NOW, replayed=True,
        dispute_status="won", amount_lost=Money(0, "usd"),
    )


def test_attributes_never_set_read_as_the_orm_reads_them():
    payment = Payment(id=uuid.uuid4(), user_id=uuid.uuid4(), amount=2000, currency="usd",
                      status="pending", created_at=NOW)
    info = PaymentInfo.of(payment)
    assert (info.status, info.error, info.stripe_transaction_id, info.plan_id) == (
        "pending", None, None, None)
    assert info.amount_lost == Money(0, "usd")
