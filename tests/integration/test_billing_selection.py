"""Billing selects in SQL exactly the subscriptions that need work now, in batches: waiting
past-due subscriptions never crowd out due renewals; run time never becomes creation time."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from payment_lib.services.billing import run_billing

pytestmark = pytest.mark.emulator_only

DAY = dt.timedelta(days=1)


@pytest.fixture
def plan(payments):
    return payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )


def subscribe(payments):
    paid = payments.pay(
        user_id=str(uuid.uuid4()),
        amount="9.99",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key=str(uuid.uuid4()),
        plan_id="basic-monthly",
    )
    return payments.get_subscription(paid.subscription_id)


def bill(payments, now, *, batch):
    return run_billing(
        now,
        new_uow=payments.database.unit_of_work,
        gateway=payments.gateway,
        metrics=payments.metrics,
        retry_days=payments.settings.renewal_retry_days,
        clock=payments.clock,
        limit=batch,
    )


def test_waiting_past_due_subscriptions_never_starve_a_due_renewal(payments, plan):
    waiting = [subscribe(payments) for _ in range(3)]
    for subscription in waiting:
        payments.change_payment_method(subscription.id, "pm_card_chargeCustomerFail")
    due = max(s.next_billing_date for s in waiting)
    payments.run_billing(now=due)  # all three fail: past_due, retry tomorrow
    fresh = subscribe(payments)
    renewal_time = fresh.next_billing_date + dt.timedelta(hours=1)
    assert renewal_time < due + DAY

    report = bill(payments, renewal_time, batch=2)

    assert [c.subscription_id for c in report.charged] == [fresh.id]
    assert [payments.get_subscription(s.id).failed_attempts for s in waiting] == [1, 1, 1]


def test_every_due_subscription_is_billed_whatever_the_batch_size(payments, plan):
    subscriptions = [subscribe(payments) for _ in range(5)]
    due = max(s.next_billing_date for s in subscriptions)

    report = bill(payments, due, batch=2)

    assert sorted(c.subscription_id for c in report.charged) == sorted(s.id for s in subscriptions)
    assert all(c.status == "succeeded" for c in report.charged)


def test_a_billing_run_at_a_given_time_stores_the_real_time_as_the_payments_creation(
    payments, plan
):
    subscription = subscribe(payments)
    far = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

    [renewal] = payments.run_billing(now=far).charged

    assert renewal.created_at < dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert payments.list_payments(subscription.user_id)[0].id == renewal.id
