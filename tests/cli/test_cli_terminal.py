"""payment-cli in a real pseudo-terminal (issue 14, item 8): what a person sees. A billing run
draws a progress bar; log lines (human, not JSON) are drawn above it, never glued to it; an
error is one plain line, never a traceback."""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import subprocess
import sys
import uuid

import pytest

from payment_lib import Payments

pytestmark = pytest.mark.emulator_only

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+|\x1b")
BAR = re.compile(r"\[[#\- ]{5,}\]")


def run_in_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run ``payment-cli argv`` with stdin, stdout and stderr on a pseudo-terminal; its exit
    code and everything it wrote, as the terminal received it."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "payment_cli", *argv],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def screen_lines(output: str) -> list[str]:
    """The lines a person sees: carriage returns and line clears applied, colours dropped."""
    lines: list[str] = []
    line: list[str] = []
    column = 0
    for token in _CONTROL.findall(output):
        if token == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        elif token == "\r":
            column = 0
        elif token == "\x1b[2K":
            line, column = [], 0
        elif token.startswith("\x1b"):
            continue  # colours, cursor visibility
        else:
            line[column : column + len(token)] = list(token)
            column += len(token)
    if line:
        lines.append("".join(line).rstrip())
    return [text for text in lines if text.strip()]


@pytest.fixture
def terminal_env(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env.update(
        PAYMENT_DATABASE_URL=settings.database_url,
        PAYMENT_STRIPE_API_KEY=settings.stripe_api_key.get_secret_value(),
        PAYMENT_STRIPE_API_BASE=settings.stripe_api_base or "",
        PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS="0",
        TERM="xterm",
        COLUMNS="120",
    )
    return {k: v for k, v in env.items() if v}


def subscribe(payments: Payments, count: int) -> dt.datetime:
    payments.seed_demo_plans()
    due = None
    for _ in range(count):
        paid = payments.pay(
            user_id=str(uuid.uuid4()), amount="9.99", currency="usd",
            payment_method="pm_card_visa", idempotency_key=str(uuid.uuid4()),
            plan_id="basic-monthly",
        )
        due = payments.get_subscription(paid.subscription_id).next_billing_date
    assert due is not None
    return due


def test_a_billing_run_shows_a_bar_with_human_log_lines_above_it(payments, terminal_env):
    due = subscribe(payments, 3)
    now = (due + dt.timedelta(hours=1)).isoformat()

    code, output = run_in_terminal(
        ["--log-level", "info", "billing", "run", "--now", now], terminal_env
    )

    lines = screen_lines(output)
    assert code == 0, output
    assert "Traceback" not in output
    bars = [line for line in lines if BAR.search(line)]
    assert bars and "billing" in bars[-1] and "100%" in bars[-1], lines
    logs = [line for line in lines if "payment attempt" in line]
    assert logs, lines
    for line in lines:
        assert not line.lstrip().startswith("{"), f"a JSON log line on a terminal: {line}"
        assert not (BAR.search(line) and re.search(r"\b(info|warning|error)\b", line)), (
            f"a log line glued to the bar: {line!r}"
        )
    charged = [line for line in lines if "succeeded" in line and "9.99 USD" in line]
    assert len(charged) == 3, lines


def test_an_error_is_one_plain_line(terminal_env):
    code, output = run_in_terminal(["payments", "show", str(uuid.uuid4())], terminal_env)

    assert code == 6
    lines = screen_lines(output)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: No payment") and lines[0].endswith("[not_found]")
    assert "Traceback" not in output
