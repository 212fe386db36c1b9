# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""The worker: webhooks, notifications, renewals and recovery, shared by several processes
through the database; SIGTERM/SIGINT finish the current item and exit cleanly."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
import stripe
from pgbouncer import release_pooled
from webhook_helpers import (  # noqa: F401 (fixtures)
    SECRET,
    event_payload,
    intent_for,
    lose_stripe_answers,
    settings,
    sign,
    smtp,
)

from payment_lib import Payments, ProviderUnavailable

EMAIL = "ada@example.com"


def worker_env(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    return {
        **env,
        "PAYMENT_DATABASE_URL": settings.database_url,
        "PAYMENT_DATABASE_POOLER": settings.database_pooler,
        "PAYMENT_STRIPE_API_KEY": settings.stripe_api_key.get_secret_value(),
        "PAYMENT_STRIPE_API_BASE": settings.stripe_api_base or "",
        "PAYMENT_SMTP_HOST": settings.smtp_host,
        "PAYMENT_SMTP_PORT": str(settings.smtp_port),
        "PAYMENT_SMTP_FROM": settings.smtp_from,
    }


def start_worker(settings, log_path, *args):
    """A worker process; its logs go to ``log_path`` (a pipe nobody reads would block it)."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "payment_cli", "--log-level", "info", "worker", *args],
            env=worker_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def scalar(payments, sql):
    with payments.database.engine.connect() as connection:
        return connection.execute(sa.text(sql)).scalar_one()


def test_worker_once_processes_events_and_sends_the_emails(payments, settings, smtp, user_id):
    payload = event_payload("customer.created", {"id": "cus_1"})
    payments.receive_webhook(payload, sign(payload))
    with payments.database.unit_of_work() as uow:
        uow.notifications.enqueue(
            {
                "recipient": EMAIL,
                "kind": "expiry",
                "payload": {"plan_id": "basic-monthly"},
                "dedupe_key": "expiry:1",
            }
        )
        uow.commit()

    done = subprocess.run(
        [sys.executable, "-m", "payment_cli", "worker", "--once", "--json"],
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["webhooks"]["processed"] == 1 and report["notifications"]["sent"] == 1
    assert scalar(payments, "SELECT count(*) FROM webhook_events WHERE processed") == 1
    assert len(smtp.wait_for(1)) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_worker_finish_and_exit_cleanly(
    payments, settings, smtp, signum, tmp_path
):
    worker = start_worker(settings, tmp_path / "worker.log", "--interval", "0.2")
    try:
        deadline = time.monotonic() + 30
        payload = event_payload("customer.created", {"id": "cus_1"})
        payments.receive_webhook(payload, sign(payload))
        while scalar(payments, "SELECT count(*) FROM webhook_events WHERE processed") < 1:
            assert time.monotonic() < deadline, "the worker never processed the event"
            time.sleep(0.1)
        worker.send_signal(signum)
        code = worker.wait(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
    stderr = (tmp_path / "worker.log").read_text()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "worker stopped" in stderr


def _scenario(payments, stripe_emulator, stripe_target, count):
    """``count`` payments whose Stripe answers were lost: only webhooks can finish them."""
    payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )
    client = stripe.StripeClient(
        stripe_target.api_key, base_addresses={"api": stripe_target.api_base}, max_network_retries=0
    )
    lose_stripe_answers(stripe_emulator)
    payments.gateway.breaker.failures = 10**6  # answers are lost on purpose: never pause calls
    made = []
    for n in range(count):
        kind = n % 5
        fields = {
            "user_id": str(uuid.uuid4()),
            "amount": "20.00",
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "idempotency_key": f"bulk-{n}",
            "customer_email": f"user{n}@example.com",
        }
        if kind == 1:
            fields["payment_method"] = "pm_card_visa_chargeDeclinedInsufficientFunds"
        elif kind == 2:
            fields.update(
                payment_method="pm_card_threeDSecure2Required",
                return_url="https://shop.example/return",
            )
        elif kind == 3:
            fields.update(amount="9.99", plan_id="basic-monthly")
        with pytest.raises(ProviderUnavailable):
            payments.pay(**fields)
        made.append((kind, fields["idempotency_key"]))
    stripe_emulator.faults.clear()
    with payments.database.engine.connect() as connection:
        ids = dict(connection.execute(sa.text("SELECT idempotency_key, id FROM payments")).all())
    for kind, key in made:
        intent = intent_for(stripe_emulator, ids[key])
        if kind == 2:
            stripe_emulator.authenticate(intent["id"])
        if kind == 4:  # refunded in Stripe's dashboard, in two parts
            for amount in (500, 700):
                client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": amount})
    return stripe_emulator.events()


STATE = """
SELECT p.idempotency_key, p.status, p.amount_refunded, p.failure_code, p.stripe_transaction_id,
       m.stripe_payment_method_id, s.status, s.plan_id, sm.stripe_payment_method_id,
       (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id)
FROM payments p
LEFT JOIN payment_methods m ON m.id = p.payment_method_id
LEFT JOIN subscriptions s ON s.id = p.subscription_id
LEFT JOIN payment_methods sm ON sm.id = s.payment_method_id
"""
# Emails about how each payment ended (by payment), and about each refund (by amount).
SETTLED = """
SELECT n.dedupe_key, n.recipient, NULL FROM notifications n
WHERE kind NOT IN ('action_required', 'refund_confirmation')
UNION ALL
SELECT 'refund_confirmation:' || p.idempotency_key, n.recipient, r.amount
FROM notifications n
JOIN refunds r ON n.dedupe_key = 'refund_confirmation:' || r.id
JOIN payments p ON p.id = r.payment_id
"""


def final_state(url):
    """Payments (card, subscription, refunded total) and the emails about them, by kind."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            payments = sorted(tuple(r) for r in connection.execute(sa.text(STATE)))
            settled = sorted(tuple(r) for r in connection.execute(sa.text(SETTLED)))
            kinds = dict(
                connection.execute(
                    sa.text("SELECT kind, count(*) FROM notifications GROUP BY kind")
                ).all()
            )
    finally:
        engine.dispose()
    return payments, settled, kinds


@pytest.mark.emulator_only
@pytest.mark.postgresql_only  # several worker processes share the work through PostgreSQL
@pytest.mark.through_pooler
def test_500_events_three_times_each_shuffled_to_four_workers_apply_once_like_in_order(
    request, payments, settings, smtp, stripe_emulator, stripe_target, database_url, tmp_path
):
    # Through the pooler, a smaller run (the suite's time): the same shapes, fewer of them.
    count = 60 if settings.database_pooler == "transaction" else 125
    events = _scenario(payments, stripe_emulator, stripe_target, count=count)
    assert len(events) >= 4 * count
    payments.close()

    # In order, once each, in this process, on a copy of the database.
    admin_url = request.getfixturevalue("postgres_admin_url")
    source = sa.make_url(database_url).database
    copy = f"{source}_in_order"
    release_pooled(database_url)  # a template may have no other sessions
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {copy} TEMPLATE {source}")
    copy_url = sa.make_url(database_url).set(database=copy).render_as_string(hide_password=False)
    try:
        with Payments.from_settings(settings.model_copy(update={"database_url": copy_url})) as one:
            for event in events:
                payload = json.dumps(event).encode()
                one.receive_webhook(payload, sign(payload))
                one.process_webhooks()
        expected = final_state(copy_url)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {copy} WITH (FORCE)")
        admin.dispose()

    # Three times each, shuffled, received concurrently while four worker processes drain.
    deliveries = [json.dumps(e).encode() for e in events] * 3
    random.Random(6).shuffle(deliveries)
    logs = [tmp_path / f"worker-{n}.log" for n in range(4)]
    workers = [start_worker(settings, path, "--interval", "0.05") for path in logs]
    receiver = Payments.from_settings(settings)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            received = list(pool.map(lambda p: receiver.receive_webhook(p, sign(p)), deliveries))
        deadline = time.monotonic() + 60
        while scalar(receiver, "SELECT count(*) FROM webhook_events WHERE NOT processed") or scalar(
            receiver, "SELECT count(*) FROM notifications WHERE status <> 'sent'"
        ):
            assert time.monotonic() < deadline, "the workers did not drain the inbox"
            time.sleep(0.2)
        attempts = scalar(receiver, "SELECT max(attempts) FROM webhook_events")
        stored = scalar(receiver, "SELECT count(*) FROM webhook_events")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=30) for worker in workers]
        receiver.close()

    assert codes == [0, 0, 0, 0], [path.read_text()[-2000:] for path in logs]
    assert sum(not r.duplicate for r in received) == stored == len(events)
    assert attempts == 1  # every event applied by exactly one worker, at the first try
    payments_now, settled, kinds = final_state(database_url)
    payments_in_order, settled_in_order, kinds_in_order = expected
    assert payments_now == payments_in_order  # states, cards, subscriptions, refunded totals
    assert settled == settled_in_order  # one email per payment about how it ended
    # "Action required" only while it was still true: not when the success came first.
    assert kinds.get("action_required", 0) <= kinds_in_order["action_required"]
    assert kinds == {**kinds_in_order, "action_required": kinds.get("action_required", 0)}
    time.sleep(0.3)
    emails = sum(kinds.values())
    assert len(smtp.messages) == emails  # one email per notification, none twice
    assert len({m["Message-ID"] for m in smtp.messages}) == emails


@pytest.mark.emulator_only
def test_a_running_worker_reconciles_the_last_day_on_its_schedule(settings, user_id):
    import threading

    from prometheus_client import CollectorRegistry

    quick = settings.model_copy(update={"reconcile_interval_seconds": 1})
    with Payments.from_settings(quick, registry=CollectorRegistry()) as payments:
        paid = payments.pay(
            user_id=user_id,
            amount="20.00",
            currency="usd",
            payment_method="pm_card_visa",
            idempotency_key="order-1",
        )
        with payments.database.engine.begin() as connection:
            connection.execute(sa.text("UPDATE payments SET status = 'failed'"))
        stop = threading.Event()
        worker = threading.Thread(
            target=payments.run_worker, kwargs={"interval": 0.2, "stop": stop}
        )
        worker.start()
        try:
            deadline = time.monotonic() + 20
            while payments.get_payment(paid.id).status != "succeeded":
                assert time.monotonic() < deadline, "the worker never reconciled"
                time.sleep(0.2)
        finally:
            stop.set()
            worker.join(timeout=20)
        fixed = payments.metrics.registry.get_sample_value(
            "ledger_corrections_total", {"kind": "failed_to_succeeded"}
        )
        assert fixed == 1
