"""The pytest plugin, the emulator's lifecycle and the stripe-emulator CLI command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import stripe
from emulator_helpers import http_call

from payment_lib.testing import StripeEmulator, StripeTarget

pytest_plugins = ["pytester"]


@pytest.mark.emulator_only
def test_the_target_points_the_sdk_at_the_emulator(
    stripe_target: StripeTarget, stripe_emulator: StripeEmulator
) -> None:
    assert (stripe_target.api_base, stripe_target.emulator) == (
        stripe_emulator.url,
        stripe_emulator,
    )


@pytest.mark.emulator_only
def test_the_emulator_listens_on_loopback(stripe_emulator: StripeEmulator) -> None:
    assert stripe_emulator.url.startswith("http://127.0.0.1:")


def test_a_started_emulator_answers_and_a_stopped_one_does_not() -> None:
    with StripeEmulator() as emulator:
        url = emulator.url
        assert http_call("GET", f"{url}/_emulator/health")[0] == 200

    with pytest.raises(OSError):
        http_call("GET", f"{url}/_emulator/health", timeout=1)


def test_emulator_only_tests_skip_with_a_reason_against_real_stripe(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENT_TEST_STRIPE_API_KEY", "sk_test_real_key")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.emulator_only
        def test_internal(stripe_target):
            pass

        def test_target(stripe_target):
            assert (stripe_target.api_base, stripe_target.emulator) == (None, None)
        """
    )

    result = pytester.runpytest("-p", "payment_lib.testing.pytest_plugin", "-rs")

    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*emulator_only*PAYMENT_TEST_STRIPE_API_KEY*"])


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_the_cli_command_prints_its_url_and_stops_cleanly_on_a_signal(stop_signal: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from payment_cli.emulator_command import stripe_emulator; stripe_emulator()",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.split()[-1]
    assert http_call("GET", f"{url}/_emulator/health")[0] == 200

    process.send_signal(stop_signal)

    assert process.wait(timeout=10) == 0


def test_a_stopped_emulator_can_be_started_again_and_still_delivers_webhooks(
    webhook_receiver: Any,
) -> None:
    emulator = StripeEmulator(webhook_url=webhook_receiver.url)
    emulator.start()
    emulator.stop()

    with emulator:
        client = stripe.StripeClient(
            emulator.api_key, base_addresses={"api": emulator.url}, max_network_retries=0
        )
        client.v1.customers.create()

        assert len(webhook_receiver.wait_for(1)) == 1


def test_an_emulator_given_a_webhook_url_generates_a_signing_secret() -> None:
    emulator = StripeEmulator(webhook_url="http://127.0.0.1:9/hooks")

    assert (emulator.webhook_url, str(emulator.webhook_secret)[:6]) == (
        "http://127.0.0.1:9/hooks",
        "whsec_",
    )
