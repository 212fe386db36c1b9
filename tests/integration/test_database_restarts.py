# ruff: noqa: F811 (pytest fixtures imported from restarts)
"""PostgreSQL restarts mid-operation (issue 15, item 3): a public function meets
``DatabaseUnavailable`` (retryable, code ``database_unavailable``), never a raw SQLAlchemy or
psycopg error; retrying the same call afterwards does the work once; the worker keeps running
and says so once per outage. The server of a cluster of these tests' own is stopped in fast
mode (sessions told and closed) and in immediate mode (as a crash)."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry
from restarts import restartable, restartable_url  # noqa: F401 (fixtures)
from webhook_helpers import event_payload, sign, smtp, webhook_settings  # noqa: F401 (fixture)

from payment_lib import Actor, DatabaseUnavailable, Payments
from payment_lib.observability import configure_logging

MODES = ["fast", "immediate"]


@pytest.fixture
def payments(restartable_url, stripe_target, smtp):
    settings = webhook_settings(restartable_url, stripe_target, smtp)
    with Payments.from_settings(settings, registry=CollectorRegistry()) as facade:
        facade.list_plans()  # a pooled connection, as in an application that has been running
        yield facade


@pytest.fixture
def logs():
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    return stream


def log_lines(stream, event):
    return [line for line in map(json.loads, stream.getvalue().splitlines())
            if line["event"] == event]


def while_stripe_answers(emulator, path, work):
    """Run ``work`` in a thread and return once its call to Stripe (``path``) is in flight;
    Stripe takes 1.5 s to answer. Returns a function that joins and gives (result, error)."""
    emulator.faults.set(latency=1.5, path_prefix=path)
    outcome = {}

    def run():
        try:
            outcome["result"] = work()
        except Exception as error:  # what the caller would see
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    assert emulator.wait_for_in_flight(1, timeout=10)

    def join():
        thread.join(30)
        emulator.faults.clear()
        return outcome.get("result"), outcome.get("error")

    return join


def assert_unavailable(error):
    assert isinstance(error, DatabaseUnavailable), repr(error)
    assert (error.code, error.retryable) == ("database_unavailable", True)
    assert error.to_dict() == {"code": "database_unavailable", "message": error.message}


@pytest.mark.parametrize("mode", MODES)
def test_a_restart_while_stripe_charges_is_database_unavailable_and_a_retry_charges_once(
    payments, restartable, stripe_emulator, logs, mode
):
    request = {"user_id": str(uuid.uuid4()), "amount": "20.00", "currency": "usd",
               "payment_method": "pm_card_visa", "idempotency_key": f"order-{mode}"}
    join = while_stripe_answers(stripe_emulator, "/v1/payment_intents",
                                lambda: payments.pay(**request))
    restartable.stop(mode)
    _, error = join()
    restartable.start()

    again = payments.pay(**request)

    assert_unavailable(error)
    assert again.status == "succeeded"
    assert stripe_emulator.count("payment_intent") == 1
    assert len(log_lines(logs, "database unavailable")) == 1
    assert len(log_lines(logs, "database available again")) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_restart_while_stripe_refunds_is_database_unavailable_and_a_retry_refunds_once(
    payments, restartable, stripe_emulator, mode
):
    paid = payments.pay(user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                        payment_method="pm_card_visa", idempotency_key="to-refund")
    join = while_stripe_answers(
        stripe_emulator, "/v1/refunds",
        lambda: payments.refund(paid.id, actor=Actor.admin("ada"), amount="5.00"),
    )
    restartable.stop(mode)
    _, error = join()
    restartable.start()

    again = payments.refund(paid.id, actor=Actor.admin("ada"), amount="5.00")

    assert_unavailable(error)
    assert (again.status, again.to_dict()["amount"]) == ("succeeded", "5.00")
    assert stripe_emulator.count("refund") == 1


@pytest.mark.parametrize("mode", MODES)
def test_webhooks_received_through_a_restart_are_each_stored_once(payments, restartable, mode):
    restart = restartable.restart_soon(mode, after=0.2, down=0.5)
    received, refused, number = [], 0, 0
    while restart.is_alive() or number < 30:
        number += 1
        payload = event_payload("charge.updated", {"id": f"ch_{number}", "object": "charge"},
                                f"evt_restart_{number}")
        for _ in range(100):  # as Stripe does: deliver again until it is acknowledged
            try:
                received.append(payments.receive_webhook(payload, sign(payload)))
                break
            except DatabaseUnavailable as error:
                assert_unavailable(error)
                refused += 1
                time.sleep(0.05)

    stored = [e.stripe_event_id for e in payments.list_webhook_events(limit=1000)]
    assert refused > 0  # the restart was felt
    assert sorted(stored) == sorted({f"evt_restart_{n}" for n in range(1, number + 1)})


def test_the_worker_keeps_running_through_restarts_and_warns_once_per_outage(
    payments, restartable, logs
):
    stop = threading.Event()
    passes = []
    worker = threading.Thread(
        target=lambda: passes.append(payments.run_worker(interval=0.05, stop=stop))
    )
    worker.start()
    try:
        time.sleep(0.3)
        restartable.restart("fast", down=1.0)
        time.sleep(0.5)
        restartable.restart("immediate", down=1.0)
        time.sleep(0.5)
        assert worker.is_alive()
    finally:
        stop.set()
        worker.join(10)

    assert passes and passes[0] > 10
    assert len(log_lines(logs, "database unavailable")) == 2
    assert len(log_lines(logs, "database available again")) == 2
    assert all(line["level"] == "warning" for line in log_lines(logs, "database unavailable"))
    errors = [line for line in map(json.loads, logs.getvalue().splitlines())
              if line["level"] in ("error", "critical")]
    assert errors == []
