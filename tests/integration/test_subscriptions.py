"""Subscriptions: started by a plan payment, renewed by billing runs, one state machine."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from payment_lib import IllegalTransition, InvalidRequest, ProviderUnavailable
from payment_lib.db.tables import PaymentMethod
from payment_lib.domain.billing import billing_date

EMAIL = "ada@example.com"


@pytest.fixture
def plan(payments):
    return payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )


def subscribe(payments, user_id, method="pm_card_visa", key=None):
    return payments.pay(
        user_id=user_id,
        amount="9.99",
        currency="usd",
        payment_method=method,
        idempotency_key=key or str(uuid.uuid4()),
        plan_id="basic-monthly",
        customer_email=EMAIL,
    )


def kinds_sent(payments):
    with payments.database.engine.connect() as connection:
        return [
            row[0]
            for row in connection.execute(
                sa.text("SELECT kind FROM notifications ORDER BY created_at, kind")
            )
        ]


def test_a_plan_payment_starts_an_active_subscription(payments, plan, user_id):
    paid = subscribe(payments, user_id)

    assert paid.status == "succeeded" and paid.subscription_id is not None
    [subscription] = payments.list_subscriptions(user_id)
    assert subscription.id == paid.subscription_id
    assert (subscription.status, subscription.plan_id) == ("active", "basic-monthly")
    assert subscription.next_billing_date == billing_date(subscription.start_date, "month", 1, 1)
    assert subscription.end_date is None and subscription.cancel_at_period_end is False
    assert "payment_confirmation" in kinds_sent(payments)


@pytest.mark.emulator_only
def test_the_first_payment_saves_the_card_on_a_customer_for_renewals(
    payments, plan, user_id, stripe_emulator
):
    subscribe(payments, user_id)
    [intent] = stripe_emulator.objects("payment_intent")
    assert intent["customer"].startswith("cus_")
    assert intent["setup_future_usage"] == "off_session"
    assert stripe_emulator.count("customer") == 1


def test_buying_a_live_plan_again_is_refused_without_charging(payments, plan, user_id):
    subscribe(payments, user_id)
    with pytest.raises(InvalidRequest, match="already subscribed"):
        subscribe(payments, user_id)
    assert len(payments.list_payments(user_id)) == 1


def test_a_declined_plan_payment_starts_no_subscription(payments, plan, user_id):
    paid = subscribe(payments, user_id, method="pm_card_visa_chargeDeclined")
    assert paid.status == "failed" and paid.subscription_id is None
    assert payments.list_subscriptions(user_id) == []


def test_cancel_now_ends_access(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    cancelled = payments.cancel_subscription(subscription_id)
    assert cancelled.status == "cancelled"
    assert cancelled.end_date is not None and cancelled.next_billing_date is None


def test_cancelling_twice_is_illegal_and_changes_nothing(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    first = payments.cancel_subscription(subscription_id)
    with pytest.raises(IllegalTransition):
        payments.cancel_subscription(subscription_id)
    assert payments.get_subscription(subscription_id) == first


def test_cancel_at_period_end_keeps_access_then_ends_without_charging(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    pending = payments.cancel_subscription(subscription_id, at_period_end=True)
    assert (pending.status, pending.cancel_at_period_end) == ("active", True)
    assert pending.end_date == pending.next_billing_date

    report = payments.run_billing(now=pending.end_date)

    assert report.charged == []
    assert payments.get_subscription(subscription_id).status == "cancelled"
    assert len(payments.list_payments(user_id)) == 1


def test_a_renewal_charges_once_and_moves_the_date(payments, plan, user_id):
    subscription = payments.get_subscription(subscribe(payments, user_id).subscription_id)
    due = subscription.next_billing_date

    first = payments.run_billing(now=due)
    again = payments.run_billing(now=due + dt.timedelta(hours=1))

    assert [c.status for c in first.charged] == ["succeeded"]
    assert again.charged == []
    renewed = payments.get_subscription(subscription.id)
    assert renewed.status == "active"
    assert renewed.next_billing_date == billing_date(subscription.start_date, "month", 1, 2)
    assert len(payments.list_payments(user_id)) == 2
    assert "renewal" in kinds_sent(payments)


def test_nothing_is_charged_before_the_due_date(payments, plan, user_id):
    subscription = payments.get_subscription(subscribe(payments, user_id).subscription_id)
    report = payments.run_billing(now=subscription.next_billing_date - dt.timedelta(seconds=1))
    assert report.charged == []


def test_whole_lifecycle_renew_fail_recover_then_expire(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    payments.run_billing(now=due)  # renewal 1 succeeds

    due = payments.get_subscription(subscription_id).next_billing_date
    payments.change_payment_method(subscription_id, "pm_card_chargeCustomerFail")
    failed = payments.run_billing(now=due)
    assert [c.status for c in failed.charged] == ["failed"]
    past_due = payments.get_subscription(subscription_id)
    assert (past_due.status, past_due.failed_attempts) == ("past_due", 1)
    assert past_due.next_retry_at == due + dt.timedelta(days=1)
    assert "past_due" in kinds_sent(payments)

    payments.change_payment_method(subscription_id, "pm_card_visa")
    payments.run_billing(now=due + dt.timedelta(days=1))
    recovered = payments.get_subscription(subscription_id)
    assert (recovered.status, recovered.failed_attempts) == ("active", 0)
    assert recovered.next_billing_date > due

    due = recovered.next_billing_date
    payments.change_payment_method(subscription_id, "pm_card_chargeCustomerFail")
    for days in (0, 1, 3, 5):
        payments.run_billing(now=due + dt.timedelta(days=days))
    expired = payments.get_subscription(subscription_id)
    assert expired.status == "expired" and expired.end_date is not None
    assert "expiry" in kinds_sent(payments)


def test_a_renewal_needing_authentication_asks_the_user_and_is_not_retried(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    payments.change_payment_method(subscription_id, "pm_card_authenticationRequired")

    report = payments.run_billing(now=due)

    assert [c.error.code for c in report.charged] == ["authentication_required"]
    waiting = payments.get_subscription(subscription_id)
    assert waiting.status == "past_due" and waiting.next_retry_at is None
    assert "action_required" in kinds_sent(payments)
    assert payments.run_billing(now=due + dt.timedelta(days=2)).charged == []


def test_changing_the_card_after_a_hard_decline_schedules_a_retry(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    payments.change_payment_method(subscription_id, "pm_card_authenticationRequired")
    payments.run_billing(now=due)

    payments.change_payment_method(subscription_id, "pm_card_visa")
    report = payments.run_billing(now=due + dt.timedelta(days=2))

    assert [c.status for c in report.charged] == ["succeeded"]
    assert payments.get_subscription(subscription_id).status == "active"


def test_subscription_to_dict_has_the_documented_keys(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    data = payments.get_subscription(subscription_id).to_dict()
    assert {
        "id",
        "plan_id",
        "status",
        "start_date",
        "next_billing_date",
        "end_date",
        "cancel_at_period_end",
    } <= data.keys()
    assert data["start_date"].endswith("+00:00")


def _forget_customer(payments, user_id):
    with payments.database.unit_of_work() as uow:  # as if the customer was deleted at Stripe
        for method in uow.session.query(PaymentMethod).filter_by(user_id=user_id):
            method.stripe_customer_id = "cus_deleted"
        uow.commit()


def test_a_renewal_stripe_refuses_fails_and_waits_for_a_new_card(payments, plan):
    subscription = payments.get_subscription(subscribe(payments, str(uuid.uuid4())).subscription_id)
    _forget_customer(payments, subscription.user_id)

    report = payments.run_billing(now=subscription.next_billing_date)

    assert [(c.status, c.error.code) for c in report.charged] == [("failed", "payment_refused")]
    waiting = payments.get_subscription(subscription.id)
    assert (waiting.status, waiting.next_retry_at) == ("past_due", None)
    assert payments.recover_stale_payments(older_than_seconds=0) == []


@pytest.mark.emulator_only
def test_stripe_failing_for_one_subscription_does_not_stop_the_billing_run(
    payments, plan, stripe_emulator
):
    first = payments.get_subscription(subscribe(payments, str(uuid.uuid4())).subscription_id)
    second = payments.get_subscription(subscribe(payments, str(uuid.uuid4())).subscription_id)
    stripe_emulator.faults.set(error_status=500, times=3)  # all of the first billed's attempts

    report = payments.run_billing(now=second.next_billing_date)

    [charged] = [c.subscription_id for c in report.charged]
    [(failed, code)] = [(e["subscription_id"], e["code"]) for e in report.errors]
    assert {charged, uuid.UUID(failed)} == {first.id, second.id}
    assert code == "provider_unavailable"
    renewed = payments.get_subscription(charged)
    assert renewed.next_billing_date > second.next_billing_date


@pytest.mark.emulator_only
def test_changing_the_card_again_after_a_lost_answer_attaches_it_once(
    payments, plan, user_id, stripe_emulator
):
    subscription_id = subscribe(payments, user_id).subscription_id
    stripe_emulator.faults.set(drop_response=True, path_prefix="/v1/payment_methods", times=3)
    with pytest.raises(ProviderUnavailable):
        payments.change_payment_method(subscription_id, "pm_card_mastercard")
    stripe_emulator.faults.clear()

    payments.change_payment_method(subscription_id, "pm_card_mastercard")  # the retry

    attached = [e for e in stripe_emulator.events() if e["type"] == "payment_method.attached"]
    assert len([e for e in attached if e["data"]["object"]["card"]["brand"] == "mastercard"]) == 1


@pytest.mark.emulator_only
def test_a_late_renewal_failure_sends_no_past_due_email_for_a_cancelled_subscription(
    payments, plan, user_id, stripe_emulator
):
    from webhook_helpers import lose_stripe_answers

    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    payments.change_payment_method(subscription_id, "pm_card_chargeCustomerFail")
    lose_stripe_answers(stripe_emulator)
    payments.run_billing(now=due)  # declined at Stripe; we never heard
    stripe_emulator.faults.clear()
    payments.cancel_subscription(subscription_id)

    payments.clock = lambda: due + dt.timedelta(hours=1)
    payments.recover_stale_payments(older_than_seconds=0)  # learns of the decline, late

    assert "past_due" not in kinds_sent(payments)
    assert payments.get_subscription(subscription_id).status == "cancelled"


@pytest.mark.emulator_only
def test_a_renewal_paid_after_the_subscription_was_cancelled_is_refunded_automatically(
    payments, plan, user_id, stripe_emulator
):
    """Stripe charged the renewal, we never heard, the user cancelled, then recovery learns
    it succeeded: it paid for nothing. The worker's refund pass gives it back, once, and the
    refund cancels nothing (the subscription had ended already)."""
    from webhook_helpers import lose_stripe_answers

    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    lose_stripe_answers(stripe_emulator)
    payments.run_billing(now=due)  # charged at Stripe; we never heard
    stripe_emulator.faults.clear()
    payments.cancel_subscription(subscription_id)
    payments.clock = lambda: due + dt.timedelta(hours=1)
    [settled] = payments.recover_stale_payments(older_than_seconds=0)
    assert settled.status == "succeeded"

    [refund] = payments.refund_duplicate_purchases()

    assert (refund.payment_id, refund.amount.amount, refund.status) == (
        settled.id,
        "9.99",
        "succeeded",
    )
    assert payments.refund_duplicate_purchases() == []
    assert payments.get_subscription(subscription_id).status == "cancelled"


def test_a_past_due_subscription_is_retried_now_on_request(payments, plan, user_id):
    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    payments.change_payment_method(subscription_id, "pm_card_chargeCustomerFail")
    payments.run_billing(now=due)
    payments.change_payment_method(subscription_id, "pm_card_visa")
    assert payments.get_subscription(subscription_id).next_retry_at == due + dt.timedelta(days=1)

    report = payments.retry_subscription(subscription_id)

    assert [c.status for c in report.charged] == ["succeeded"]
    renewed = payments.get_subscription(subscription_id)
    assert (renewed.status, renewed.failed_attempts) == ("active", 0)
    assert renewed.next_billing_date > due
    with pytest.raises(InvalidRequest, match="past due"):
        payments.retry_subscription(subscription_id)
