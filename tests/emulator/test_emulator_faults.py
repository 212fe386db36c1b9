"""Fault injection as the SDK sees it: latency, 500/429, hangs, dropped connections and replies."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from emulator_helpers import build_client, http_call, pay

from payment_lib.testing import StripeEmulator, StripeTarget

pytestmark = pytest.mark.emulator_only


def test_added_latency_delays_the_answer(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(latency=0.2)
    started = time.monotonic()

    pay(client)

    assert time.monotonic() - started >= 0.2


def test_an_injected_500_is_an_api_error_that_may_be_retried(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(error_status=500)

    with pytest.raises(stripe.APIError) as caught:
        pay(client)

    assert caught.value.http_status == 500
    assert caught.value.headers.get("Stripe-Should-Retry") == "true"  # type: ignore[union-attr]


def test_an_injected_500_charges_nothing(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(error_status=500)

    with pytest.raises(stripe.APIError):
        pay(client)

    assert stripe_emulator.count("payment_intent") == 0


def test_an_injected_unclassified_error_is_an_api_error_not_to_retry(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    """An error no SDK class names (here a 418): the outcome is unknown to the caller."""
    stripe_emulator.faults.set(error_status=418)

    with pytest.raises(stripe.APIError) as caught:
        pay(client)

    assert caught.value.http_status == 418
    assert caught.value.headers.get("Stripe-Should-Retry") == "false"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="error_status"):
        stripe_emulator.faults.set(error_status=404)


def test_an_injected_429_is_a_rate_limit_error(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(error_status=429)

    with pytest.raises(stripe.RateLimitError) as caught:
        pay(client)

    assert (caught.value.http_status, caught.value.error.code) == (429, "rate_limit")  # type: ignore[union-attr]


def test_a_share_of_errors_hits_that_share_of_requests(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(error_status=503, share=0.25)
    failures = 0

    for _ in range(20):
        try:
            client.v1.customers.create()
        except stripe.APIError:
            failures += 1

    assert failures == 5


def test_a_fault_limited_in_times_clears_itself(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(error_status=500, times=1)
    with pytest.raises(stripe.APIError):
        pay(client)

    assert pay(client).status == "succeeded"


def test_the_sdk_retry_with_the_same_key_recovers_from_a_500(
    stripe_target: StripeTarget, stripe_emulator: StripeEmulator
) -> None:
    client = stripe.StripeClient(
        stripe_target.api_key,
        base_addresses={"api": stripe_emulator.url},
        max_network_retries=2,
    )
    stripe_emulator.faults.set(error_status=500, times=1)

    intent = pay(client)

    assert (intent.status, stripe_emulator.count("payment_intent")) == ("succeeded", 1)


def test_a_hang_longer_than_the_client_timeout_is_a_connection_error(
    stripe_target: StripeTarget, stripe_emulator: StripeEmulator
) -> None:
    client = build_client(stripe_target, timeout=0.3)
    stripe_emulator.faults.set(hang=2.0)

    with pytest.raises(stripe.APIConnectionError):
        pay(client)


def test_a_dropped_connection_is_a_connection_error_and_charges_nothing(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(drop_connection=True)

    with pytest.raises(stripe.APIConnectionError):
        pay(client)

    assert stripe_emulator.count("payment_intent") == 0


def test_a_dropped_response_still_charges(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(drop_response=True, times=1)

    with pytest.raises(stripe.APIConnectionError):
        pay(client)

    assert stripe_emulator.count("charge") == 1


def test_retrying_a_dropped_response_with_its_key_replays_the_charge(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(drop_response=True, times=1)
    with pytest.raises(stripe.APIConnectionError):
        pay(client, key="order-99")

    intent = pay(client, key="order-99")

    assert (intent.status, stripe_emulator.count("charge")) == ("succeeded", 1)


def test_clearing_faults_restores_normal_service(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.faults.set(error_status=500)

    stripe_emulator.faults.clear()

    assert pay(client).status == "succeeded"


def test_faults_can_be_set_over_http_for_an_emulator_in_another_process(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    body = json.dumps({"error_status": 429}).encode()
    http_call("POST", f"{stripe_emulator.url}/_emulator/faults", body)

    with pytest.raises(stripe.RateLimitError):
        pay(client)


def test_latency_can_follow_a_distribution_with_a_median_and_a_95th_percentile() -> None:
    """Stripe's latency is not one number: a log-normal with the given median and p95."""
    import random
    import statistics

    from payment_lib.testing.faults import Faults

    faults = Faults(rng=random.Random(7))
    faults.set(latency=0.4, latency_p95=1.5)

    drawn = sorted(faults.decide("/v1/payment_intents").latency for _ in range(4000))

    assert statistics.median(drawn) == pytest.approx(0.4, rel=0.1)
    assert drawn[int(0.95 * len(drawn))] == pytest.approx(1.5, rel=0.15)
    assert min(drawn) > 0


def test_a_latency_p95_below_the_median_is_refused() -> None:
    from payment_lib.testing.faults import Faults

    with pytest.raises(ValueError, match="latency_p95"):
        Faults().set(latency=0.4, latency_p95=0.1)
