"""Run payment-cli in-process with CliRunner, configured only through PAYMENT_* variables."""

import pytest
from click.testing import CliRunner

from payment_cli.cli import main


@pytest.fixture
def run(database_url, monkeypatch):
    """Call ``run("plans", "list", "--json")``; returns click's Result (stdout, stderr, exit)."""
    for variable in [v for v in __import__("os").environ if v.startswith("PAYMENT_")]:
        if not variable.startswith("PAYMENT_TEST_"):
            monkeypatch.delenv(variable)
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(
            main, list(args), env={"PAYMENT_DATABASE_URL": database_url, **(env or {})}
        )

    return invoke


@pytest.fixture
def stripe_env(stripe_target):
    """The PAYMENT_* variables that point the CLI at the suite's Stripe (emulator or test mode)."""
    env = {
        "PAYMENT_STRIPE_API_KEY": stripe_target.api_key,
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0.01",
    }
    if stripe_target.api_base:
        env["PAYMENT_STRIPE_API_BASE"] = stripe_target.api_base
    return env


@pytest.fixture
def stripe_cli(run, stripe_env):
    """``run`` against the suite's Stripe: ``stripe_cli("pay", ...)``."""

    def invoke(*args):
        return run(*args, env=stripe_env)

    return invoke


@pytest.fixture
def demo_cli(stripe_cli):
    """``stripe_cli`` with the demo plans seeded."""
    assert stripe_cli("plans", "seed-demo").exit_code == 0
    return stripe_cli
