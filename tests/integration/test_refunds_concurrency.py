"""Refunds under concurrency and crashes: never more than was paid, one Stripe refund each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_payments import rows

from payment_lib import Actor, PaymentError

HERE = Path(__file__).parent
ADMIN = Actor.admin("ada")
pytestmark = pytest.mark.emulator_only


@pytest.fixture
def payment(payments, user_id):
    return payments.pay(
        user_id=user_id,
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key=str(uuid.uuid4()),
    )


def refund_process(settings, *args):
    return [
        sys.executable,
        str(HERE / "crash_refund.py"),
        settings.database_url,
        settings.stripe_api_base or "",
        settings.stripe_api_key.get_secret_value(),
        *args,
    ]


def assert_refunded_exactly(payments, stripe_emulator, payment, succeeded):
    """What Stripe refunded, what we recorded and the payment's total all agree."""
    at_stripe = [r["amount"] for r in stripe_emulator.objects("refund")]
    assert len(at_stripe) == succeeded
    recorded = rows(payments, "SELECT amount FROM refunds WHERE status = 'succeeded'")
    assert sorted(at_stripe) == sorted(amount for (amount,) in recorded)
    total = payments.get_payment(payment.id).amount_refunded.minor
    assert total == sum(at_stripe) <= payment.amount.minor


def test_twenty_concurrent_refunds_in_threads_never_exceed_the_amount(
    payments, payment, stripe_emulator
):
    def attempt(n):
        try:
            return payments.refund(
                payment.id, actor=ADMIN, amount="3.00", idempotency_key=f"thread-{n}"
            ).status
        except PaymentError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = Counter(pool.map(attempt, range(20)))

    assert outcomes == {"succeeded": 6, "already_refunded": 14}
    assert_refunded_exactly(payments, stripe_emulator, payment, succeeded=6)


@pytest.mark.postgresql_only
@pytest.mark.through_pooler
def test_twenty_concurrent_refunds_in_several_processes_never_exceed_the_amount(
    payments, settings, payment, stripe_emulator
):
    start = str(time.time() + 2.5)  # after every process has started up
    processes = [
        subprocess.Popen(
            refund_process(settings, "burst", str(payment.id), "3.00", "5", start),
            env={**os.environ, "PAYMENT_DATABASE_POOLER": settings.database_pooler},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = Counter()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outcomes.update(out.split())

    assert outcomes == {"succeeded": 6, "already_refunded": 14}
    assert_refunded_exactly(payments, stripe_emulator, payment, succeeded=6)
    assert payments.get_payment(payment.id).status == "partially_refunded"


@pytest.mark.parametrize("step", ["before_stripe", "after_stripe"])
def test_a_refund_killed_at_any_step_then_retried_makes_one_stripe_refund(
    payments, settings, payment, stripe_emulator, step
):
    crashed = subprocess.run(
        refund_process(settings, "crash", str(payment.id), "ticket-1", step),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    result = payments.refund(payment.id, actor=ADMIN, amount="5.00", idempotency_key="ticket-1")

    assert (result.status, result.amount.amount) == ("succeeded", "5.00")
    assert_refunded_exactly(payments, stripe_emulator, payment, succeeded=1)
    assert rows(payments, "SELECT count(*) FROM refunds") == [(1,)]


def test_recovery_resolves_a_refund_left_pending_by_a_crash(
    payments, settings, payment, stripe_emulator
):
    subprocess.run(
        refund_process(settings, "crash", str(payment.id), "ticket-1", "after_stripe"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert rows(payments, "SELECT status FROM refunds") == [("pending",)]

    [recovered] = payments.recover_pending_refunds(older_than_seconds=0)

    assert recovered.status == "succeeded" and recovered.payment_status == "partially_refunded"
    assert_refunded_exactly(payments, stripe_emulator, payment, succeeded=1)
