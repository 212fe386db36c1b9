"""Integration tests use the shared fixtures of tests/conftest.py (settings, payments, user_id)."""

import pytest


@pytest.fixture
def plan(payments):
    """basic-monthly, 9.99 USD a month (modules with a plan of their own define theirs)."""
    return payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )
