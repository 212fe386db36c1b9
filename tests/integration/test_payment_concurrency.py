"""Exactly one charge per key under concurrency, crashes and many processes (both databases)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from payment_lib import ProviderUnavailable

HERE = Path(__file__).parent
pytestmark = pytest.mark.emulator_only


def count_payments(payments):
    with payments.database.engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM payments")).scalar_one()


@pytest.mark.through_pooler
def test_twenty_concurrent_requests_with_one_key_charge_once(payments, user_id,
                                                             stripe_emulator):
    def attempt(_):
        try:
            return payments.pay(user_id=user_id, amount="20.00", currency="usd",
                                payment_method="pm_card_visa", idempotency_key="same-key")
        except ProviderUnavailable:
            return None

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = [r for r in pool.map(attempt, range(20)) if r is not None]

    assert results, "at least one request must get the payment"
    assert {r.id for r in results} == {results[0].id}
    assert stripe_emulator.count("payment_intent") == 1
    assert count_payments(payments) == 1
    assert payments.get_payment(results[0].id).status == "succeeded"


@pytest.mark.parametrize("step", ["before_stripe", "after_stripe", "after_record"])
def test_a_process_killed_at_any_step_then_retried_charges_once(
    payments, settings, user_id, stripe_emulator, step
):
    crashed = subprocess.run(
        [sys.executable, str(HERE / "crash_payment.py"), settings.database_url,
         settings.stripe_api_base or "", settings.stripe_api_key.get_secret_value(), user_id,
         "order-1", step],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    result = payments.pay(user_id=user_id, amount="20.00", currency="usd",
                          payment_method="pm_card_visa", idempotency_key="order-1")

    assert result.status == "succeeded"
    assert stripe_emulator.count("payment_intent") == 1
    assert stripe_emulator.count("charge") == 1
    assert count_payments(payments) == 1


@pytest.mark.parametrize("step", ["before_stripe", "after_stripe"])
def test_recovery_finishes_a_payment_left_pending_by_a_crash(
    payments, settings, user_id, stripe_emulator, step
):
    subprocess.run(
        [sys.executable, str(HERE / "crash_payment.py"), settings.database_url,
         settings.stripe_api_base or "", settings.stripe_api_key.get_secret_value(), user_id,
         "order-1", step],
        capture_output=True, timeout=60, check=False,
    )
    assert [p.status for p in payments.list_payments(user_id)] == ["pending"]

    recovered = payments.recover_stale_payments(older_than_seconds=0)

    assert [p.status for p in recovered] == ["succeeded"]
    assert stripe_emulator.count("payment_intent") == 1
    assert payments.recover_stale_payments(older_than_seconds=0) == []


@pytest.mark.through_pooler
def test_the_rate_limit_holds_across_processes(settings, user_id, stripe_emulator):
    env = {**os.environ, "PAYMENT_DATABASE_URL": settings.database_url,
           "PAYMENT_DATABASE_POOLER": settings.database_pooler,
           "PAYMENT_STRIPE_API_KEY": settings.stripe_api_key.get_secret_value(),
           "PAYMENT_STRIPE_API_BASE": settings.stripe_api_base or ""}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "payment_cli", "pay", "--user", user_id, "--amount", "20.00",
             "--currency", "usd", "--payment-method", "pm_card_visa",
             "--idempotency-key", f"proc-{n}-{uuid.uuid4()}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for n in range(7)
    ]
    codes = sorted(p.wait(timeout=120) for p in processes)

    assert codes == [0] * 5 + [3] * 2
    assert stripe_emulator.count("payment_intent") == 5


def test_concurrent_payments_reach_stripe_at_the_same_time(payments, stripe_emulator):
    """Nothing in the library serialises Stripe calls (the benchmark once found a lock that did)."""
    stripe_emulator.faults.set(latency=1.5)

    def attempt(_):
        return payments.pay(user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                            payment_method="pm_card_visa", idempotency_key=str(uuid.uuid4()))

    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(attempt, n) for n in range(4)]
        assert stripe_emulator.wait_for_in_flight(4, timeout=5)
        assert [r.result().status for r in running] == ["succeeded"] * 4


def test_one_key_used_at_once_by_two_users_is_a_conflict_not_a_database_error(
    payments, stripe_emulator
):
    """The first user's payment is being inserted (not committed yet) when the second user's
    arrives with the same key: the second is an idempotency conflict, never a raw error."""
    import datetime as dt
    import threading
    import time

    from payment_lib import IdempotencyConflict
    from payment_lib.db.tables import Payment

    now = dt.datetime.now(dt.UTC)
    holder = payments.database.engine.connect()
    transaction = holder.begin()
    holder.execute(sa.insert(Payment.__table__).values(
        id=uuid.uuid4(), user_id=uuid.uuid4(), amount=2000, currency="usd", status="pending",
        kind="payment", idempotency_key="shared-key", request_fingerprint="x" * 64,
        amount_refunded=0, amount_lost=0, details={}, created_at=now, updated_at=now,
    ))
    outcome = []

    def second_user():
        try:
            outcome.append(payments.pay(
                user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                payment_method="pm_card_visa", idempotency_key="shared-key"))
        except Exception as error:  # the test looks at what was raised
            outcome.append(error)

    thread = threading.Thread(target=second_user)
    thread.start()
    time.sleep(0.5)  # the second user's insert now waits on the first's
    transaction.commit()
    holder.close()
    thread.join(timeout=20)

    [raised] = outcome
    assert isinstance(raised, IdempotencyConflict), repr(raised)
    assert stripe_emulator.count("payment_intent") == 0
