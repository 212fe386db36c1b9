"""Run refunds in a process of their own, for the crash and multi-process refund tests.

usage:
  python crash_refund.py DATABASE_URL API_BASE API_KEY crash PAYMENT_ID KEY STEP
      One refund of 5.00, then SIGKILL at STEP: before_stripe (the pending refund is
      committed), after_stripe (Stripe refunded, the outcome not yet recorded) or
      after_record (everything done).
  python crash_refund.py DATABASE_URL API_BASE API_KEY burst PAYMENT_ID AMOUNT THREADS START
      At the Unix time START (so that several processes overlap), THREADS refunds of AMOUNT
      at once, each with its own key; prints one outcome a line (the refund's status, or the
      error code).
"""

import os
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from payment_lib import Actor, PaymentError, Payments, Settings, configure_logging
from payment_lib.stripe_gateway import StripeGateway

ADMIN = Actor.admin("crash-test")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash(payments: Payments, payment_id: str, key: str, step: str) -> None:
    real_create = StripeGateway.create_refund

    def create_then_maybe_die(self, **kwargs):
        if step == "before_stripe":
            die()
        outcome = real_create(self, **kwargs)
        if step == "after_stripe":
            die()
        return outcome

    StripeGateway.create_refund = create_then_maybe_die
    payments.refund(payment_id, actor=ADMIN, amount="5.00", idempotency_key=key)
    die()


def burst(payments: Payments, payment_id: str, amount: str, threads: int, start: float) -> None:
    def one(_: int) -> str:
        try:
            key = f"burst-{uuid.uuid4()}"
            return payments.refund(
                payment_id, actor=ADMIN, amount=amount, idempotency_key=key
            ).status
        except PaymentError as error:
            return error.code

    time.sleep(max(0.0, start - time.time()))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        print("\n".join(pool.map(one, range(threads))), flush=True)


def main() -> None:
    database_url, api_base, api_key, mode, payment_id, *rest = sys.argv[1:]
    configure_logging("warning")  # stdout carries the outcomes only
    settings = Settings(
        database_url=database_url,
        stripe_api_key=api_key,
        stripe_api_base=api_base or None,
        stripe_retry_backoff_seconds=0.01,
        database_pooler=os.environ.get("PAYMENT_DATABASE_POOLER", "none"),
    )
    with Payments.from_settings(settings) as payments:
        if mode == "crash":
            crash(payments, payment_id, rest[0], rest[1])
        else:
            burst(payments, payment_id, rest[0], int(rest[1]), float(rest[2]))


if __name__ == "__main__":
    main()
