"""The gateway's retries, pinned: a transient error (429, 5xx, a lost connection) is tried again,
three attempts at most, waiting backoff, then twice that (exponential, at most 8 s), each attempt
and each failure logged with its number; anything else (a decline, a bad request, an error no
SDK class names, NotFound) ends the call at its first attempt. Against the emulator, no mocks."""

import threading
import time
from collections.abc import Callable

import pytest
import stripe
from structlog.testing import capture_logs

from payment_lib.config import Settings
from payment_lib.domain.errors import InvalidRequest, NotFound, ProviderError, ProviderUnavailable
from payment_lib.stripe_gateway.gateway import StripeGateway

pytestmark = pytest.mark.emulator_only

BACKOFF = 0.2


@pytest.fixture
def gateway(stripe_target):
    settings = Settings(
        database_url="sqlite://",
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_timeout_seconds=2,
        stripe_retry_backoff_seconds=BACKOFF,
    )
    return StripeGateway.from_settings(settings)


def confirm(gateway, method="pm_card_visa"):
    return gateway.confirm_payment(
        amount=2000, currency="usd", payment_method=method, idempotency_key="retry-key-1"
    )


def calls(logs):
    return [
        (entry["event"], entry["attempt"], entry.get("http_status"))
        for entry in logs
        if entry["event"] in ("stripe call", "stripe call failed")
    ]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_error_is_retried_with_exponential_waits(gateway, stripe_emulator, status):
    stripe_emulator.faults.set(error_status=status, times=2)
    started = time.monotonic()
    with capture_logs() as logs:
        outcome = confirm(gateway)
    assert time.monotonic() - started >= BACKOFF * (1 + 2)
    assert outcome.status == "succeeded"
    assert calls(logs) == [
        ("stripe call", 1, None),
        ("stripe call failed", 1, status),
        ("stripe call", 2, None),
        ("stripe call failed", 2, status),
        ("stripe call", 3, None),
    ]
    assert stripe_emulator.count("payment_intent") == 1


def test_a_lost_connection_is_retried(gateway, stripe_emulator):
    stripe_emulator.faults.set(drop_connection=True, times=1)
    with capture_logs() as logs:
        assert confirm(gateway).status == "succeeded"
    assert [attempt for event, attempt, _ in calls(logs) if event == "stripe call"] == [1, 2]


def test_three_transient_failures_give_provider_unavailable(gateway, stripe_emulator):
    stripe_emulator.faults.set(error_status=503)
    with capture_logs() as logs, pytest.raises(ProviderUnavailable):
        confirm(gateway)
    assert [attempt for event, attempt, _ in calls(logs) if event == "stripe call"] == [1, 2, 3]
    assert gateway.breaker.state == "closed"  # 3 failures of the 5 that open it


@pytest.mark.parametrize(
    ("status", "error"), [(400, InvalidRequest), (418, ProviderError)], ids=["400", "418"]
)
def test_other_errors_end_the_call_at_the_first_attempt(gateway, stripe_emulator, status, error):
    stripe_emulator.faults.set(error_status=status)
    with capture_logs() as logs, pytest.raises(error):
        confirm(gateway)
    assert calls(logs) == [("stripe call", 1, None), ("stripe call failed", 1, status)]


def test_a_decline_is_an_outcome_at_the_first_attempt(gateway, stripe_emulator):
    with capture_logs() as logs:
        assert confirm(gateway, "pm_card_chargeDeclined").status == "requires_payment_method"
    assert calls(logs) == [("stripe call", 1, None)]


def test_not_found_is_raised_at_once(gateway, stripe_emulator):
    with capture_logs() as logs, pytest.raises(NotFound):
        gateway.retrieve_payment("pi_missing")
    assert calls(logs) == [("stripe call", 1, None)]


def test_calls_retried_at_once_in_many_threads_keep_their_own_attempts(gateway):
    """One ``Retrying`` serves every call: each thread's call counts its own attempts and
    waits, whatever the others do meanwhile."""
    threads = 8
    barrier = threading.Barrier(threads)
    outcomes: dict[int, object] = {}

    def flaky(index: int) -> Callable[[], str]:
        made = []

        def call() -> str:
            made.append(1)
            barrier.wait(timeout=10) if len(made) == 1 else None
            if len(made) < 1 + index % 3:  # 0, 1 or 2 failures before an answer
                raise stripe.APIConnectionError("connection reset")
            return f"answer {index} after {len(made)} attempts"

        return call

    def run(index: int) -> None:
        outcomes[index] = gateway._call("customers.create", flaky(index))

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)

    assert outcomes == {i: f"answer {i} after {1 + i % 3} attempts" for i in range(threads)}
