"""Refunds through the facade, on both databases, over the real SDK (seed US3, T046-T049)."""

from __future__ import annotations

import uuid

import pytest
import stripe
import structlog
from structlog.testing import capture_logs
from test_payments import rows

from payment_lib import (
    Actor,
    AlreadyRefunded,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    ProviderUnavailable,
    RefundInfo,
)
from payment_lib.db.tables import Refund
from payment_lib.services.refunds import derived_key

ADMIN = Actor.admin("ada")
EMAIL = "grace@example.com"
REFUND_EMAIL = "kind = 'refund_confirmation'"


def paid(payments, user_id, amount="20.00", currency="usd", **extra):
    return payments.pay(
        user_id=user_id,
        amount=amount,
        currency=currency,
        payment_method=extra.pop("method", "pm_card_visa"),
        idempotency_key=str(uuid.uuid4()),
        customer_email=extra.pop("customer_email", EMAIL),
        **extra,
    )


def subscribed(payments, user_id):
    """A payment for a plan, which starts an active subscription."""
    payments.add_plan("monthly", name="Monthly", amount="20.00", currency="usd", interval="month")
    payment = paid(payments, user_id, plan_id="monthly")
    assert payment.subscription_id is not None
    return payment


def stripe_refunds(stripe_target, intent_id):
    """The refunds Stripe has for a PaymentIntent, asked through the SDK."""
    client = stripe.StripeClient(
        stripe_target.api_key,
        base_addresses={"api": stripe_target.api_base} if stripe_target.api_base else {},
        max_network_retries=0,
    )
    return list(client.v1.refunds.list(params={"payment_intent": intent_id}).data)


def stripe_calls(logs):
    return [e["operation"] for e in logs if e["event"] == "stripe call"]


# T046: who may refund, and the shape of what comes back


def test_a_non_admin_is_forbidden_and_nothing_is_recorded(payments, user_id, stripe_target):
    payment = paid(payments, user_id)

    for actor in (Actor("bob"), Actor("bob", frozenset({"support"})), "ada"):
        with pytest.raises(Forbidden, match="admin"):
            payments.refund(payment.id, actor=actor)

    assert rows(payments, "SELECT count(*) FROM refunds") == [(0,)]
    assert payments.get_payment(payment.id).status == "succeeded"
    assert stripe_refunds(stripe_target, payment.stripe_transaction_id) == []


def test_a_refund_result_has_the_documented_fields(payments, user_id):
    payment = paid(payments, user_id)

    result = payments.refund(payment.id, actor=ADMIN, amount="5.00", reason="duplicate")

    assert isinstance(result, RefundInfo)
    data = result.to_dict()
    assert data == {
        "id": str(result.id),
        "payment_id": str(payment.id),
        "status": "succeeded",
        "amount": "5.00",
        "currency": "usd",
        "reason": "duplicate",
        "note": None,
        "requested_by": "ada",
        "stripe_refund_id": result.stripe_refund_id,
        "failure_message": None,
        "created_at": result.created_at.isoformat(),
        "payment_status": "partially_refunded",
        "amount_refunded": "5.00",
        "remaining_refundable": "15.00",
        "subscription_id": None,
        "subscription_status": None,
        "replayed": False,
    }
    assert data["stripe_refund_id"].startswith("re_")


# T047: a full refund cancels the subscription and emails the customer


def test_a_full_refund_cancels_the_subscription_and_queues_the_confirmation_email(
    payments, user_id, stripe_target
):
    payment = subscribed(payments, user_id)

    result = payments.refund(payment.id, actor=ADMIN, reason="requested_by_customer")

    assert (result.status, result.amount.amount, result.remaining_refundable.amount) == (
        "succeeded",
        "20.00",
        "0.00",
    )
    [at_stripe] = stripe_refunds(stripe_target, payment.stripe_transaction_id)
    assert (at_stripe.id, at_stripe.amount, at_stripe.status) == (
        result.stripe_refund_id,
        2000,
        "succeeded",
    )
    after = payments.get_payment(payment.id)
    assert (after.status, after.amount_refunded.amount) == ("refunded", "20.00")
    assert (result.subscription_id, result.subscription_status) == (
        payment.subscription_id,
        "cancelled",
    )
    [(status, end_date, next_billing)] = rows(
        payments, "SELECT status, end_date, next_billing_date FROM subscriptions"
    )
    assert (status, next_billing) == ("cancelled", None) and end_date is not None
    assert rows(payments, f"SELECT recipient, status FROM notifications WHERE {REFUND_EMAIL}") == [
        (EMAIL, "pending")
    ]


def test_a_partial_refund_leaves_the_subscription_active(payments, user_id):
    payment = subscribed(payments, user_id)

    result = payments.refund(payment.id, actor=ADMIN, amount="5.00")

    assert result.subscription_status == "active"
    assert rows(payments, "SELECT status FROM subscriptions") == [("active",)]
    assert rows(payments, f"SELECT count(*) FROM notifications WHERE {REFUND_EMAIL}") == [(1,)]


def test_no_email_is_queued_when_the_payment_has_no_address(payments, user_id):
    payment = paid(payments, user_id, customer_email=None)
    payments.refund(payment.id, actor=ADMIN)
    assert rows(payments, "SELECT count(*) FROM notifications") == [(0,)]  # no receipt either


# T048: partial amounts are exact and add up


def test_a_partial_refund_refunds_exactly_that_amount(payments, user_id, stripe_target):
    payment = paid(payments, user_id)

    result = payments.refund(payment.id, actor=ADMIN, amount="7.35")

    assert (result.amount.minor, result.amount_refunded.amount) == (735, "7.35")
    assert result.remaining_refundable.amount == "12.65"
    assert [r.amount for r in stripe_refunds(stripe_target, payment.stripe_transaction_id)] == [735]
    after = payments.get_payment(payment.id)
    assert (after.status, after.amount_refunded.minor) == ("partially_refunded", 735)
    assert rows(payments, "SELECT amount, currency, status FROM refunds") == [
        (735, "usd", "succeeded")
    ]


def test_partial_refunds_add_up_and_the_rest_completes_the_refund(payments, user_id):
    payment = paid(payments, user_id)

    first = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="r1")
    second = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="r2")
    rest = payments.refund(payment.id, actor=ADMIN)

    assert [r.amount.amount for r in (first, second, rest)] == ["5.00", "5.00", "10.00"]
    assert [r.payment_status for r in (first, second, rest)] == [
        "partially_refunded",
        "partially_refunded",
        "refunded",
    ]
    assert [r.id for r in payments.list_refunds(payment.id)] == [first.id, second.id, rest.id]
    fetched = payments.get_refund(second.id)
    assert (fetched.id, fetched.amount, fetched.status) == (second.id, second.amount, "succeeded")
    assert (fetched.payment_status, fetched.remaining_refundable.amount) == ("refunded", "0.00")


@pytest.mark.parametrize(
    ("amount", "currency", "part", "minor", "left"),
    [("1000", "jpy", "300", 300, "700"), ("10.000", "kwd", "2.500", 2500, "7.500")],
)
def test_refunds_in_zero_and_three_decimal_currencies_are_exact(
    payments, user_id, stripe_target, amount, currency, part, minor, left
):
    payment = paid(payments, user_id, amount=amount, currency=currency)
    assert payment.status == "succeeded", payment.error

    result = payments.refund(payment.id, actor=ADMIN, amount=part)
    rest = payments.refund(payment.id, actor=ADMIN)

    assert (result.amount.minor, result.amount.currency) == (minor, currency)
    assert result.remaining_refundable.amount == left
    assert rest.amount.amount == left and rest.payment_status == "refunded"
    at_stripe = stripe_refunds(stripe_target, payment.stripe_transaction_id)
    assert sorted(r.amount for r in at_stripe) == sorted([minor, payment.amount.minor - minor])


# T049: duplicates are refused


def test_the_same_refund_retried_with_its_key_is_replayed_not_made_twice(
    payments, user_id, stripe_target
):
    payment = paid(payments, user_id)

    first = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="ticket-7")
    again = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="ticket-7")

    assert again.id == first.id and (first.replayed, again.replayed) == (False, True)
    assert len(stripe_refunds(stripe_target, payment.stripe_transaction_id)) == 1
    assert payments.get_payment(payment.id).amount_refunded.amount == "5.00"


def test_without_a_key_the_same_request_twice_refunds_once(payments, user_id, stripe_target):
    payment = paid(payments, user_id)

    first = payments.refund(payment.id, actor=ADMIN, amount="5.00")
    again = payments.refund(payment.id, actor=Actor.admin("another-admin"), amount="5.00")

    assert again.id == first.id and again.replayed
    assert len(stripe_refunds(stripe_target, payment.stripe_transaction_id)) == 1


def test_a_key_reused_for_a_different_refund_is_a_conflict(payments, user_id):
    payment = paid(payments, user_id)
    payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="ticket-7")

    with pytest.raises(IdempotencyConflict):
        payments.refund(payment.id, actor=ADMIN, amount="6.00", idempotency_key="ticket-7")
    assert rows(payments, "SELECT count(*) FROM refunds") == [(1,)]


def test_a_second_full_refund_is_refused_as_already_refunded(payments, user_id, stripe_target):
    payment = paid(payments, user_id)
    payments.refund(payment.id, actor=ADMIN, idempotency_key="first")

    with pytest.raises(AlreadyRefunded, match="already been fully refunded"):
        payments.refund(payment.id, actor=ADMIN, idempotency_key="second")

    assert len(stripe_refunds(stripe_target, payment.stripe_transaction_id)) == 1
    assert rows(payments, "SELECT count(*) FROM refunds") == [(1,)]


def test_refunding_more_than_remains_is_refused_saying_what_remains(payments, user_id):
    payment = paid(payments, user_id)
    payments.refund(payment.id, actor=ADMIN, amount="15.00")

    with pytest.raises(AlreadyRefunded, match=r"5\.00 USD") as caught:
        payments.refund(payment.id, actor=ADMIN, amount="6.00")

    assert caught.value.param == "amount"
    assert payments.get_payment(payment.id).amount_refunded.amount == "15.00"


def test_refunding_more_than_was_paid_is_invalid(payments, user_id):
    payment = paid(payments, user_id)
    with pytest.raises(InvalidRequest, match=r"20\.00 USD") as caught:
        payments.refund(payment.id, actor=ADMIN, amount="20.01")
    assert caught.value.param == "amount"


def test_only_a_succeeded_payment_can_be_refunded(payments, user_id):
    declined = paid(payments, user_id, method="pm_card_visa_chargeDeclined")
    with pytest.raises(InvalidRequest, match="failed"):
        payments.refund(declined.id, actor=ADMIN)
    assert rows(payments, "SELECT count(*) FROM refunds") == [(0,)]


BAD_INPUT = [
    ("amount", "abc", "amount"),
    ("amount", "5.001", "amount"),
    ("amount", 5.0, "amount"),
    ("amount", "0", "amount"),
    ("amount", "-1.00", "amount"),
    ("reason", "changed_my_mind", "reason"),
    ("note", "x" * 501, "note"),
    ("note", "card 4242 4242 4242 4242", "note"),
    ("idempotency_key", "", "idempotency_key"),
    ("idempotency_key", "k" * 256, "idempotency_key"),
]


def test_bad_refund_input_gets_a_clear_error_and_changes_nothing(payments, user_id):
    payment = paid(payments, user_id)  # one payment for all cases: a database each is slow
    for field, value, param in BAD_INPUT:
        with pytest.raises(InvalidRequest) as caught:
            payments.refund(payment.id, actor=ADMIN, **{field: value})
        assert caught.value.param == param, (field, value)
        assert "4242" not in caught.value.message
    assert rows(payments, "SELECT count(*) FROM refunds") == [(0,)]


def test_a_small_refund_below_the_minimum_charge_is_allowed(payments, user_id):
    payment = paid(payments, user_id)
    assert payments.refund(payment.id, actor=ADMIN, amount="0.01").amount.minor == 1


def test_an_unknown_payment_or_refund_is_not_found(payments):
    with pytest.raises(NotFound):
        payments.refund(uuid.uuid4(), actor=ADMIN)
    with pytest.raises(NotFound):
        payments.get_refund(uuid.uuid4())
    with pytest.raises(InvalidRequest):
        payments.refund("nope", actor=ADMIN)


def test_a_refund_is_logged_naming_the_actor_and_counted(payments, user_id):
    payment = paid(payments, user_id)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        payments.refund(payment.id, actor=ADMIN, amount="5.00", note="goodwill")

    [succeeded] = [e for e in logs if e["event"] == "refund succeeded"]
    assert succeeded["actor"] == "ada" and succeeded["log_level"] == "info"
    assert succeeded["trace_id"] and succeeded["payment_id"] == str(payment.id)
    registry = payments.metrics.registry
    assert registry.get_sample_value("refunds_total", {"status": "succeeded"}) == 1


# Unknown outcomes are resolved by asking Stripe


@pytest.mark.emulator_only
def test_a_refund_whose_answer_was_lost_stays_pending_and_is_resolved_by_asking_stripe(
    payments, user_id, stripe_emulator
):
    payment = paid(payments, user_id)
    stripe_emulator.faults.set(drop_response=True, path_prefix="/v1/refunds")
    with pytest.raises(ProviderUnavailable, match="pending"):
        payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="lost")
    assert rows(payments, "SELECT status FROM refunds") == [("pending",)]
    assert stripe_emulator.count("refund") == 1

    stripe_emulator.faults.clear()
    with capture_logs() as logs:
        result = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="lost")

    assert result.status == "succeeded"
    assert stripe_calls(logs) == ["refunds.list"]
    assert stripe_emulator.count("refund") == 1
    assert payments.get_payment(payment.id).amount_refunded.amount == "5.00"


@pytest.mark.emulator_only
def test_a_pending_refund_reserves_its_amount_until_it_is_resolved(
    payments, user_id, stripe_emulator
):
    payment = paid(payments, user_id)
    stripe_emulator.faults.set(error_status=500, path_prefix="/v1/refunds")
    with pytest.raises(ProviderUnavailable):
        payments.refund(payment.id, actor=ADMIN, amount="15.00", idempotency_key="down")
    stripe_emulator.faults.clear()

    with pytest.raises(AlreadyRefunded, match=r"5\.00 USD"):
        payments.refund(payment.id, actor=ADMIN, amount="6.00", idempotency_key="other")

    [resolved] = payments.recover_pending_refunds(older_than_seconds=0)
    assert resolved.status == "succeeded"
    assert stripe_emulator.count("refund") == 1
    assert payments.recover_pending_refunds(older_than_seconds=0) == []


@pytest.mark.emulator_only
def test_a_refund_stripe_refuses_is_recorded_as_failed(payments, user_id, stripe_emulator):
    payment = paid(payments, user_id)
    with payments.database.unit_of_work() as uow:  # refunded behind our back, e.g. in Stripe
        intent = uow.payments.get(payment.id).stripe_transaction_id
    stripe.StripeClient(
        stripe_emulator.api_key, base_addresses={"api": stripe_emulator.url}
    ).v1.refunds.create(params={"payment_intent": intent})

    with pytest.raises(AlreadyRefunded):
        payments.refund(payment.id, actor=ADMIN)

    assert rows(payments, "SELECT status FROM refunds") == [("failed",)]
    assert payments.metrics.registry.get_sample_value("refunds_total", {"status": "failed"}) == 1


def test_without_a_key_a_request_stripe_refused_before_is_tried_afresh(payments, user_id):
    payment = paid(payments, user_id)
    with payments.database.unit_of_work() as uow:  # as left by a refusal from Stripe
        uow.refunds.add(
            Refund(
                payment_id=payment.id,
                amount=500,
                currency="usd",
                status="failed",
                idempotency_key=derived_key(payment.id, 500),
                requested_by="ada",
                failure_message="Stripe refused it.",
            )
        )
        uow.commit()

    result = payments.refund(payment.id, actor=ADMIN, amount="5.00")

    assert (result.status, result.replayed) == ("succeeded", False)
    assert [r.status for r in payments.list_refunds(payment.id)] == ["failed", "succeeded"]
    [(old_key,)] = rows(payments, "SELECT idempotency_key FROM refunds WHERE status = 'failed'")
    assert old_key.startswith(derived_key(payment.id, 500) + "-failed-")


@pytest.mark.emulator_only
def test_a_charged_back_payment_is_not_refunded_and_nothing_is_recorded(
    payments, user_id, stripe_emulator
):
    """Stripe refuses to refund a disputed charge (charge_disputed): the dispute settles it."""
    paid = payments.pay(
        user_id=user_id,
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key="order-1",
    )
    stripe_emulator.open_dispute(paid.stripe_transaction_id)
    payments.reconcile(fix=True)  # records the dispute, as its webhook would

    with pytest.raises(InvalidRequest, match="dispute") as caught:
        payments.refund(paid.id, actor=ADMIN)

    assert caught.value.param == "payment_id"
    assert rows(payments, "SELECT count(*) FROM refunds") == [(0,)]
    assert stripe_emulator.count("refund") == 0


def test_listing_a_payments_refunds_costs_the_same_queries_however_many_there_are(
    payments, user_id
):
    import sqlalchemy as sa

    paid = payments.pay(
        user_id=user_id,
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key="order-1",
    )

    def queries_to_list():
        count = 0

        def tick(*_args):
            nonlocal count
            count += 1

        sa.event.listen(payments.database.engine, "before_cursor_execute", tick)
        try:
            listed = payments.list_refunds(paid.id)
        finally:
            sa.event.remove(payments.database.engine, "before_cursor_execute", tick)
        return count, listed

    payments.refund(paid.id, actor=ADMIN, amount="1.00", idempotency_key="r1")
    one, _ = queries_to_list()
    for n in (2, 3, 4):
        payments.refund(paid.id, actor=ADMIN, amount="1.00", idempotency_key=f"r{n}")
    four, listed = queries_to_list()

    assert four == one
    assert [r.remaining_refundable.amount for r in listed] == ["16.00"] * 4
