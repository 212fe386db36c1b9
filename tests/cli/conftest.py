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
