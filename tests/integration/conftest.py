"""Integration fixtures: the facade on each database, talking to Stripe through settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from payment_lib import Payments, Settings
from payment_lib.testing import StripeTarget


@pytest.fixture
def settings(database_url: str, stripe_target: StripeTarget) -> Settings:
    return Settings(
        database_url=database_url,
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_timeout_seconds=2,
        stripe_retry_backoff_seconds=0.01,
    )


@pytest.fixture
def payments(settings: Settings) -> Iterator[Payments]:
    with Payments.from_settings(settings, registry=CollectorRegistry()) as facade:
        yield facade


@pytest.fixture
def user_id() -> str:
    return str(uuid.uuid4())
