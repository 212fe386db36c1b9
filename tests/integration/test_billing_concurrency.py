"""Two billing runs at once, in separate processes, charge each subscription once."""

import os
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.emulator_only


def test_two_billing_runs_in_parallel_processes_charge_once(
    payments, settings, stripe_emulator
):
    payments.add_plan("basic-monthly", name="Basic", amount="9.99", currency="usd",
                      interval="month")
    subscriptions = []
    for _ in range(3):
        paid = payments.pay(user_id=str(uuid.uuid4()), amount="9.99", currency="usd",
                            payment_method="pm_card_visa", idempotency_key=str(uuid.uuid4()),
                            plan_id="basic-monthly")
        subscriptions.append(payments.get_subscription(paid.subscription_id))
    due = max(s.next_billing_date for s in subscriptions)
    env = {**os.environ, "PAYMENT_DATABASE_URL": settings.database_url,
           "PAYMENT_STRIPE_API_KEY": settings.stripe_api_key.get_secret_value(),
           "PAYMENT_STRIPE_API_BASE": settings.stripe_api_base or ""}

    runs = [subprocess.Popen([sys.executable, "-m", "payment_cli", "billing", "run", "--now",
                              due.isoformat()], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(2)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0]

    assert stripe_emulator.count("payment_intent") == 6  # 3 first payments + 3 renewals
    for subscription in subscriptions:
        renewed = payments.get_subscription(subscription.id)
        assert renewed.next_billing_date > subscription.next_billing_date
        assert renewed.status == "active"
