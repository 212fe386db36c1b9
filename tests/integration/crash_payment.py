"""Run one payment in this process and SIGKILL it at a chosen step (used by the crash tests).

usage: python crash_payment.py DATABASE_URL API_BASE API_KEY USER_ID KEY STEP
STEP: before_stripe (after the payment row is committed), after_stripe (Stripe charged, the
outcome not yet recorded) or after_record (everything done).
"""

import os
import signal
import sys

from payment_lib import Payments, Settings
from payment_lib.stripe_gateway import StripeGateway


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    database_url, api_base, api_key, user_id, key, step = sys.argv[1:7]
    real_confirm = StripeGateway.confirm_payment

    def confirm_then_maybe_die(self, **kwargs):
        if step == "before_stripe":
            die()
        outcome = real_confirm(self, **kwargs)
        if step == "after_stripe":
            die()
        return outcome

    StripeGateway.confirm_payment = confirm_then_maybe_die
    settings = Settings(database_url=database_url, stripe_api_key=api_key,
                        stripe_api_base=api_base or None)
    with Payments.from_settings(settings) as payments:
        payments.pay(user_id=user_id, amount="20.00", currency="usd",
                     payment_method="pm_card_visa", idempotency_key=key)
    die()


if __name__ == "__main__":
    main()
