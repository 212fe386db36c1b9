"""What payment-cli prints (issue 14, item 4): --version; help that points to the installed docs
(``payment-cli docs TOPIC``), never to README.md; a decline is a result, not an error log; JSON
logs when stderr is not a terminal or when asked, human lines when asked (or on a terminal,
see test_cli_terminal.py)."""

from __future__ import annotations

import json
import uuid
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from command_tree import subcommands

from payment_cli.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def all_commands(group: click.Group = main, path: tuple[str, ...] = ()):
    yield path, group
    for name, command in subcommands(group):
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_version_prints_the_installed_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"payment-cli {version('payment_lib')}"


def test_docs_lists_the_topics_and_prints_one():
    listed = CliRunner().invoke(main, ["docs"])
    assert listed.exit_code == 0
    for topic in ("cli", "library", "webhooks", "deployment", "security", "emulator", "readme"):
        assert topic in listed.stdout.split()

    shown = CliRunner().invoke(main, ["docs", "cli"])
    assert shown.exit_code == 0
    assert shown.stdout.strip() == (DOCS / "cli.md").read_text().strip()


@pytest.mark.parametrize("as_json", [False, True])
def test_an_unknown_docs_topic_exits_2(as_json):
    result = CliRunner().invoke(main, ["docs", "nonsense", *(["--json"] if as_json else [])])
    assert result.exit_code == 2
    if as_json:
        assert json.loads(result.stdout)["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "path", [p for p, _ in all_commands()], ids=lambda p: " ".join(p) or "payment-cli"
)
def test_help_points_to_the_installed_docs_not_to_files_in_the_repository(path):
    command = dict(all_commands())[path]
    text = command.help or ""
    assert "README" not in text and ".md" not in text, text
    if not path:
        assert "payment-cli docs" in text


@pytest.fixture
def run_stripe(run, stripe_target):
    env = {"PAYMENT_STRIPE_API_KEY": stripe_target.api_key}
    if stripe_target.api_base:
        env["PAYMENT_STRIPE_API_BASE"] = stripe_target.api_base

    def invoke(*args):
        return run(*args, env=env)

    return invoke


def pay(method: str) -> list[str]:
    return ["pay", "--user", str(uuid.uuid4()), "--amount", "20.00", "--currency", "usd",
            "--payment-method", method, "--idempotency-key", f"k-{uuid.uuid4()}"]


def test_a_decline_is_a_result_not_an_error_log(run_stripe):
    result = run_stripe(*pay("pm_card_visa_chargeDeclinedInsufficientFunds"))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: Card declined due to insufficient funds [insufficient_funds]"
    ]


def test_logs_are_json_lines_when_stderr_is_not_a_terminal(run_stripe):
    result = run_stripe("--log-level", "info", *pay("pm_card_visa"))

    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert "payment attempt" in [e["event"] for e in events]


def test_human_log_lines_when_asked(run_stripe):
    result = run_stripe("--log-level", "info", "--log-format", "console", *pay("pm_card_visa"))

    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert lines and not any(line.lstrip().startswith("{") for line in lines)
    assert any("payment attempt" in line and "info" in line for line in lines)
