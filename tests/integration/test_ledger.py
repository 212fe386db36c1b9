"""Stripe is the ledger of record: an outcome we do not know is settled by asking Stripe, never
by re-sending a request whose idempotency key Stripe may have forgotten (24 hours)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs
from webhook_helpers import (  # noqa: F401 (fixtures)
    deliver,
    intent_events,
    lose_stripe_answers,
    settings,
    smtp,
)

from payment_lib import Payments, ProviderError, ProviderUnavailable

pytestmark = pytest.mark.emulator_only

EMAIL = "ada@example.com"
DAY = dt.timedelta(days=1)


@pytest.fixture
def plan(payments):
    return payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )


def pay(payments, user_id, key=None, method="pm_card_visa", **extra):
    return payments.pay(
        user_id=user_id,
        amount=extra.pop("amount", "20.00"),
        currency="usd",
        payment_method=method,
        idempotency_key=key or str(uuid.uuid4()),
        **extra,
    )


def subscribe(payments, user_id, key=None):
    return pay(
        payments, user_id, key=key, amount="9.99", plan_id="basic-monthly", customer_email=EMAIL
    )


def forget_keys(emulator):
    """Stripe forgets idempotency keys once they are 24 hours old."""
    emulator.expire_idempotency_keys()


def later(payments, delta):
    """Move the library's clock ``delta`` past now."""
    moment = dt.datetime.now(dt.UTC) + delta
    payments.clock = lambda: moment
    return moment


def rows(payments, sql):
    with payments.database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def lost_payment(payments, user_id, emulator, key="order-1", **extra):
    """A payment Stripe made whose answer never came back, made by another process (its own
    circuit breaker counts the lost answers, not ``payments``')."""
    lose_stripe_answers(emulator)
    other = Payments.from_settings(payments.settings, registry=CollectorRegistry())
    with other as app, pytest.raises(ProviderUnavailable):
        (subscribe if extra.pop("plan", False) else pay)(app, user_id, key=key, **extra)
    emulator.faults.clear()
    [payment] = payments.list_payments(user_id)
    return payment


def test_a_retry_after_stripe_forgot_the_key_charges_once(payments, user_id, stripe_emulator):
    lost = lost_payment(payments, user_id, stripe_emulator)
    assert lost.status == "unknown"
    later(payments, 25 * dt.timedelta(hours=1))
    forget_keys(stripe_emulator)

    result = pay(payments, user_id, key="order-1")

    assert (result.id, result.status) == (lost.id, "succeeded")
    assert stripe_emulator.count("payment_intent") == 1
    assert stripe_emulator.count("charge") == 1


def test_a_payment_that_never_reached_stripe_is_failed_as_not_charged_after_the_window(
    payments, user_id, stripe_emulator
):
    stripe_emulator.faults.set(error_status=500)
    with pytest.raises(ProviderUnavailable):
        pay(payments, user_id, key="order-2")
    stripe_emulator.faults.clear()
    later(payments, 25 * dt.timedelta(hours=1))
    forget_keys(stripe_emulator)

    [settled] = payments.recover_stale_payments(older_than_seconds=0)

    assert (settled.status, settled.error.code) == ("failed", "not_charged")
    assert stripe_emulator.count("payment_intent") == 0
    assert pay(payments, user_id, key="order-2").replayed


def test_recovery_past_the_window_asks_stripe_and_starts_the_subscription(
    payments, plan, user_id, stripe_emulator
):
    lost = lost_payment(payments, user_id, stripe_emulator, plan=True)
    later(payments, 25 * dt.timedelta(hours=1))
    forget_keys(stripe_emulator)

    [settled] = payments.recover_stale_payments(older_than_seconds=0)

    assert (settled.id, settled.status) == (lost.id, "succeeded")
    [subscription] = payments.list_subscriptions(user_id)
    assert subscription.status == "active" and settled.subscription_id == subscription.id
    assert stripe_emulator.count("payment_intent") == 1


def test_a_success_for_a_payment_we_recorded_as_failed_is_applied_logged_and_counted(
    payments, plan, user_id, stripe_emulator
):
    """Rows the previous version gave up on (failed, outcome_unknown) while Stripe charged."""
    lost = lost_payment(payments, user_id, stripe_emulator, plan=True)
    with payments.database.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE payments SET status = 'failed', failure_code = 'outcome_unknown'")
        )
    [intent] = stripe_emulator.objects("payment_intent")
    [succeeded] = intent_events(stripe_emulator, intent["id"], "payment_intent.succeeded")

    with capture_logs() as logs:
        deliver(payments, succeeded)
        payments.process_webhooks()

    paid = payments.get_payment(lost.id)
    assert (paid.status, paid.error) == ("succeeded", None)
    assert [s.status for s in payments.list_subscriptions(user_id)] == ["active"]
    corrections = [e for e in logs if e["event"] == "ledger corrected"]
    assert corrections and corrections[0]["log_level"] == "error"
    registry = payments.metrics.registry
    assert (
        registry.get_sample_value("ledger_corrections_total", {"kind": "failed_to_succeeded"}) == 1
    )


def test_a_renewal_whose_attempt_is_unknown_moves_through_the_retry_schedule(
    payments, plan, user_id, stripe_emulator
):
    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    stripe_emulator.faults.set(error_status=500)

    first = payments.run_billing(now=due)

    stripe_emulator.faults.clear()
    assert first.charged == [] and len(first.errors) == 1
    waiting = payments.get_subscription(subscription_id)
    assert (waiting.status, waiting.failed_attempts) == ("past_due", 1)
    assert waiting.next_retry_at == due + DAY
    assert payments.run_billing(now=due + dt.timedelta(hours=2)).charged == []

    payments.clock = lambda: due + dt.timedelta(hours=25)
    forget_keys(stripe_emulator)
    [given_up] = payments.recover_stale_payments(older_than_seconds=0)
    assert given_up.error.code == "not_charged"
    assert payments.get_subscription(subscription_id).failed_attempts == 1

    retried = payments.run_billing(now=due + dt.timedelta(hours=26))

    assert [c.status for c in retried.charged] == ["succeeded"]
    renewed = payments.get_subscription(subscription_id)
    assert (renewed.status, renewed.failed_attempts) == ("active", 0)
    assert renewed.next_billing_date > due
    assert payments.run_billing(now=due + dt.timedelta(hours=27)).charged == []
    assert stripe_emulator.count("payment_intent") == 2  # the purchase and one renewal


def test_billing_never_charges_a_new_attempt_while_the_last_one_is_unknown(
    payments, plan, user_id, stripe_emulator
):
    subscription_id = subscribe(payments, user_id).subscription_id
    due = payments.get_subscription(subscription_id).next_billing_date
    lose_stripe_answers(stripe_emulator)
    payments.run_billing(now=due)  # charged at Stripe; the answer is lost
    stripe_emulator.faults.clear()

    retried = payments.run_billing(now=due + 2 * DAY)

    assert retried.charged == []
    assert stripe_emulator.count("payment_intent") == 2
    payments.clock = lambda: due + 2 * DAY
    payments.recover_stale_payments(older_than_seconds=0)
    renewed = payments.get_subscription(subscription_id)
    assert (renewed.status, renewed.failed_attempts) == ("active", 0)


def test_an_unclassified_stripe_error_leaves_the_outcome_unknown_and_recovery_settles_it(
    payments, user_id, stripe_emulator
):
    stripe_emulator.faults.set(error_status=418, times=1)
    with pytest.raises(ProviderError):
        pay(payments, user_id, key="order-3")
    assert [p.status for p in payments.list_payments(user_id)] == ["unknown"]

    [recovered] = payments.recover_stale_payments(older_than_seconds=0)

    assert recovered.status == "succeeded"
    assert stripe_emulator.count("payment_intent") == 1


def test_two_recovery_workers_ask_stripe_once_per_payment(payments, user_id, stripe_emulator):
    lost = [
        lost_payment(payments, str(uuid.uuid4()), stripe_emulator, key=f"k{n}") for n in range(4)
    ]
    stripe_emulator.faults.set(latency=0.3)
    results = []

    def recover():
        results.extend(payments.recover_stale_payments(older_than_seconds=0))

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        workers = [threading.Thread(target=recover) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)

    calls = Counter(e.get("payment_id") for e in logs if e["event"] == "stripe call")
    assert calls == Counter({str(p.id): 1 for p in lost})
    assert sorted(r.status for r in results) == ["succeeded"] * 4


def test_one_bad_row_does_not_stop_recovery_of_the_others(payments, user_id, stripe_emulator):
    good = lost_payment(payments, user_id, stripe_emulator, key="good")
    bad = lost_payment(payments, str(uuid.uuid4()), stripe_emulator, key="bad")
    with payments.database.engine.begin() as connection:
        key = bad.id.hex if connection.dialect.name == "sqlite" else bad.id
        connection.execute(
            sa.text("UPDATE payments SET details = '{}' WHERE id = :id"), {"id": key}
        )

    with capture_logs() as logs:
        recovered = payments.recover_stale_payments(older_than_seconds=0)

    assert [r.id for r in recovered] == [good.id]
    assert payments.get_payment(good.id).status == "succeeded"
    assert any(e["event"] == "payment not settled" and e["log_level"] == "error" for e in logs)


def test_where_search_is_unavailable_a_bounded_list_finds_the_payment(
    payments, user_id, stripe_emulator
):
    lost = lost_payment(payments, user_id, stripe_emulator)
    later(payments, 25 * dt.timedelta(hours=1))
    forget_keys(stripe_emulator)
    stripe_emulator.faults.set(error_status=400, path_prefix="/v1/payment_intents/search")

    with capture_logs() as logs:
        [settled] = payments.recover_stale_payments(older_than_seconds=0)

    assert (settled.id, settled.status) == (lost.id, "succeeded")
    assert any(e["event"] == "stripe search unavailable; listing" for e in logs)
    assert stripe_emulator.count("payment_intent") == 1
