"""Pytest fixtures for the Stripe emulator, reusable by host apps.

Enable with ``pytest_plugins = ["payment_lib.testing.pytest_plugin"]`` in the root conftest.

- ``stripe_emulator``: a running ``StripeEmulator`` on a free 127.0.0.1 port, shared by the
  session and reset (objects, events, keys, faults, webhooks) before and after every test.
- ``stripe_target``: a ``StripeTarget`` for the SDK: the emulator, or real Stripe test mode
  when ``PAYMENT_TEST_STRIPE_API_KEY`` is set (then no emulator is started).
- marker ``emulator_only``: the test needs the emulator's controls or internals and is skipped
  against real Stripe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from payment_lib.testing.emulator import StripeEmulator
from payment_lib.testing.target import REAL_STRIPE_KEY_VARIABLE, StripeTarget

SKIP_REASON = (
    f"emulator_only: {REAL_STRIPE_KEY_VARIABLE} is set, so these tests run against real "
    "Stripe test mode, which has no emulator controls"
)


def _real_stripe_key() -> str | None:
    return os.environ.get(REAL_STRIPE_KEY_VARIABLE) or None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emulator_only: needs the Stripe emulator (fault injection, internals); skipped "
        f"when {REAL_STRIPE_KEY_VARIABLE} points the tests at real Stripe",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("emulator_only") is not None and _real_stripe_key():
        pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def _stripe_emulator_session() -> Iterator[StripeEmulator]:
    with StripeEmulator(host="127.0.0.1", port=0) as emulator:
        yield emulator


@pytest.fixture
def stripe_emulator(request: pytest.FixtureRequest) -> Iterator[StripeEmulator]:
    """The session's emulator, freshly reset for this test."""
    if _real_stripe_key():
        pytest.skip(SKIP_REASON)
    emulator: StripeEmulator = request.getfixturevalue("_stripe_emulator_session")
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def stripe_target(request: pytest.FixtureRequest) -> StripeTarget:
    """The API key and base URL the SDK should use in this test run."""
    key = _real_stripe_key()
    if key:
        return StripeTarget.for_real_stripe(key)
    emulator: StripeEmulator = request.getfixturevalue("stripe_emulator")
    return StripeTarget.for_emulator(emulator)
