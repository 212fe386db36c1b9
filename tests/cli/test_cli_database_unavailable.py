"""payment-cli when the database cannot be reached (issue 15, item 3): exit 9 with one line
(``[database_unavailable]``) or a JSON error object; never a traceback, never exit 70."""

import json
import socket

import pytest
from click.testing import CliRunner

from payment_cli.cli import main
from payment_cli.output import EXIT_DATABASE_UNAVAILABLE


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/payments"


# Fixed ids: test ids must be the same in every pytest-xdist worker.
USER = "5f0c7a43-7f1e-4c4e-9a43-0d2b8c1e6a01"

COMMANDS = [
    ["plans", "list"],
    ["db", "current"],
    ["db", "upgrade"],
    ["pay", "--user", USER, "--amount", "20.00", "--currency", "usd",
     "--payment-method", "pm_card_visa", "--idempotency-key", "k"],
    ["process-refund", "5f0c7a43-7f1e-4c4e-9a43-0d2b8c1e6a02", "--operator", "olga"],
    ["webhooks", "list"],
    ["replay-webhook", "evt_1"],
    ["worker", "--once"],
    ["billing", "run"],
    ["subscriptions", "show", "--user", "5f0c7a43-7f1e-4c4e-9a43-0d2b8c1e6a03"],
    ["disputes", "list"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_an_unreachable_database_exits_9_with_one_line(argv):
    env = {"PAYMENT_DATABASE_URL": closed_port_url(), "PAYMENT_STRIPE_API_KEY": "sk_test_x"}
    result = CliRunner().invoke(main, argv, env=env)

    assert EXIT_DATABASE_UNAVAILABLE == 9
    assert result.exit_code == 9, result.output
    # One error line; the JSON log lines beside it (the outage's warning) are for the log.
    [line] = [text for text in result.stderr.splitlines() if not text.startswith("{")]
    assert line.startswith("error: ") and line.endswith("[database_unavailable]")
    assert "Traceback" not in result.output


def test_with_json_the_error_is_one_object_on_stdout():
    env = {"PAYMENT_DATABASE_URL": closed_port_url()}
    result = CliRunner().invoke(main, ["plans", "list", "--json"], env=env)

    assert result.exit_code == 9
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "database_unavailable"
