"""A refund Stripe answers as succeeded and fails later (refund.failed, refund.updated): the
money is back on the payment, once, whatever order or number of deliveries."""

from __future__ import annotations

import uuid

import pytest
from webhook_helpers import deliver, settings, smtp  # noqa: F401 (fixtures)

from payment_lib import Actor

pytestmark = pytest.mark.emulator_only
ADMIN = Actor.admin("ada")


def paid(payments, method="pm_card_refundFail"):
    return payments.pay(user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                        payment_method=method, idempotency_key=str(uuid.uuid4()),
                        customer_email="ada@example.com")


def refund_events(emulator, refund_id):
    return [e for e in emulator.events() if e["type"].startswith("refund.")
            and e["data"]["object"]["id"] == refund_id
            and e["type"] in ("refund.updated", "refund.failed")]


def test_a_full_refund_that_fails_later_gives_the_money_back_to_the_payment(
    payments, stripe_emulator
):
    payment = paid(payments)
    refund = payments.refund(payment.id, actor=ADMIN)
    assert (refund.status, payments.get_payment(payment.id).status) == ("succeeded", "refunded")

    for event in refund_events(stripe_emulator, refund.stripe_refund_id):
        deliver(payments, event)
    payments.process_webhooks()

    after = payments.get_payment(payment.id)
    assert (after.status, after.amount_refunded.amount) == ("succeeded", "0.00")
    failed = payments.get_refund(refund.id)
    assert failed.status == "failed"
    kinds = [n.kind for n in payments.list_notifications(recipient="ada@example.com")]
    assert kinds.count("refund_failed") == 1


def test_a_failed_partial_refund_restores_only_its_amount(payments, stripe_emulator):
    payment = paid(payments)
    refund = payments.refund(payment.id, actor=ADMIN, amount="5.00")
    events = refund_events(stripe_emulator, refund.stripe_refund_id)

    for event in [*reversed(events), *events]:  # out of order, and twice
        deliver(payments, event)
    payments.process_webhooks()

    after = payments.get_payment(payment.id)
    assert (after.status, after.amount_refunded.amount) == ("succeeded", "0.00")
    again = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="second")
    assert again.status == "succeeded"


def test_a_refund_failure_for_a_refund_we_do_not_know_changes_nothing(payments, stripe_emulator):
    payment = paid(payments, method="pm_card_visa")
    event = {"id": "evt_unknown_refund", "object": "event", "type": "refund.failed",
             "created": 1, "livemode": False, "api_version": "2026-10-28.endive",
             "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
             "data": {"object": {"id": "re_unknown", "object": "refund", "status": "failed",
                                 "amount": 500, "currency": "usd", "metadata": {},
                                 "payment_intent": payment.stripe_transaction_id}}}
    deliver(payments, event)
    payments.process_webhooks()
    assert payments.get_payment(payment.id).status == "succeeded"


def test_a_refund_failure_locks_the_payment_before_the_refund_as_refunds_do(
    payments, stripe_emulator
):
    """One lock order everywhere (payment, then refund): no deadlock against a refund."""
    import sqlalchemy as sa

    payment = paid(payments)
    refund = payments.refund(payment.id, actor=ADMIN, amount="5.00")
    for event in refund_events(stripe_emulator, refund.stripe_refund_id):
        deliver(payments, event)
    locked = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FOR UPDATE" in statement:
            locked.extend(t for t in ("payments", "refunds") if f"\nFROM {t} \n" in statement)

    sa.event.listen(payments.database.engine, "before_cursor_execute", capture)
    try:
        payments.process_webhooks()
    finally:
        sa.event.remove(payments.database.engine, "before_cursor_execute", capture)

    assert payments.get_refund(refund.id).status == "failed"
    if payments.database.engine.dialect.name == "postgresql":  # SQLite takes no row locks
        assert locked[:2] == ["payments", "refunds"], locked
