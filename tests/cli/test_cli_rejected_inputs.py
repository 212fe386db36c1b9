"""No rejected input changes a row, and none prints a traceback (issue 14): for every command,
bad inputs (usage errors, out-of-range numbers, inf and nan, unknown ids, revisions, ports)
exit with their documented code, print one error (text on stderr, or with --json one JSON
object on stdout, usage errors included) and leave every row of every table as it was."""

from __future__ import annotations

import json
import socket

import click
import pytest
from card_numbers import database_texts
from command_tree import subcommands

from payment_cli.cli import main

UID = "3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b"
PAY = ["pay", "--user", UID, "--currency", "usd", "--payment-method", "pm_card_visa",
       "--idempotency-key", "order-1"]
PLAN = ["plans", "add", "pro", "--name", "Pro", "--currency", "usd", "--interval", "month"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# (command path, argv, exit code). Every leaf command has at least one.
BAD = [
    (("db", "upgrade"), ["db", "upgrade", "9999"], 18),
    (("db", "downgrade"), ["db", "downgrade", "abc"], 18),
    (("db", "current"), ["db", "current", "extra"], 2),
    (("plans", "add"), [*PLAN, "--amount", "9.999"], 2),
    (("plans", "add"), [*PLAN, "--amount", "9.99", "--interval-count", "0"], 2),
    (("plans", "add"), [*PLAN, "--amount", "9.99", "--interval-count", "-3"], 2),
    (("plans", "add"), [*PLAN, "--amount", "nan"], 2),
    (("plans", "list"), ["plans", "list", "--bogus"], 2),
    (("plans", "seed-demo"), ["plans", "seed-demo", "extra"], 2),
    (("pay",), [*PAY, "--amount", "-5.00"], 2),
    (("pay",), [*PAY, "--amount", "inf"], 2),
    (("pay",), [*PAY, "--amount", "nan"], 2),
    (("pay",), [*PAY, "--amount", "0"], 2),
    (("pay",), PAY, 2),  # --amount missing
    (("payments", "show"), ["payments", "show", "not-a-uuid"], 2),
    (("payments", "list"), ["payments", "list", "--user", "not-a-uuid"], 2),
    (("payments", "refresh"), ["payments", "refresh", "not-a-uuid"], 2),
    (("subscriptions", "show"), ["subscriptions", "show", "--user", "x"], 2),
    (("subscriptions", "cancel"), ["subscriptions", "cancel", "not-a-uuid"], 2),
    (("subscriptions", "retry"), ["subscriptions", "retry", "not-a-uuid"], 2),
    (("billing", "run"), ["billing", "run", "--now", "yesterday"], 2),
    # The amount is checked in the payment's currency: an unknown payment is found first.
    (("process-refund",), ["process-refund", UID, "--amount", "-1"], 6),
    (("process-refund",), ["process-refund", UID, "--amount", "nan"], 6),
    (("process-refund",), ["process-refund", UID, "--reason", "bored"], 2),
    (("webhooks", "receive"), ["webhooks", "receive", "--signature", "t=1,v1=x"], 2),
    (("webhooks", "list"), ["webhooks", "list", "--limit", "0"], 2),
    (("webhooks", "list"), ["webhooks", "list", "--status", "bogus"], 2),
    (("replay-webhook",), ["replay-webhook", "evt_unknown"], 6),
    (("worker",), ["worker", "--once", "--interval", "inf"], 2),
    (("worker",), ["worker", "--once", "--interval", "nan"], 2),
    (("worker",), ["worker", "--once", "--interval", "0"], 2),
    (("reconcile",), ["reconcile", "--since", "last tuesday"], 2),
    (("disputes", "list"), ["disputes", "list", "--limit", "-1"], 2),
    (("disputes", "show"), ["disputes", "show", "dp_unknown"], 6),
    (("stripe-emulator",), ["stripe-emulator", "--port", "99999"], 2),
    (("stripe-emulator",), ["stripe-emulator", "--port", "-1"], 2),
    (("stripe-emulator",), ["stripe-emulator", "--webhook-url", "not a url"], 2),
    (("stripe-emulator",), ["stripe-emulator", "--webhook-secret", "plain"], 2),
    (("stripe-emulator", "trigger"), ["stripe-emulator", "trigger", "no.such_event"], 2),
    (("stripe-emulator", "events", "resend"),
     ["stripe-emulator", "events", "resend", "evt_1", "--url", "ftp://x"], 2),
    (("quickstart",), ["quickstart"], 8),  # with a live key: refused before anything runs
    (("docs",), ["docs", "nonsense"], 2),
    (("doctor",), ["doctor", "--worker-seen-within", "0"], 2),
    (("stats",), ["stats", "extra"], 2),
    (("notifications", "list"), ["notifications", "list", "--limit", "0"], 2),
    (("notifications", "resend"), ["notifications", "resend", "not-a-uuid"], 2),
    (("plans", "archive"), ["plans", "archive", "no-such-plan"], 6),
    (("plans", "update"), ["plans", "update", "no-such-plan"], 2),  # --name missing
    (("refunds", "list"), ["refunds", "list", "--limit", "-1"], 2),
    (("refunds", "show"), ["refunds", "show", "not-a-uuid"], 2),
    (("subscriptions", "change-plan"), ["subscriptions", "change-plan", "not-a-uuid"], 2),
    (("subscriptions", "list"), ["subscriptions", "list", "--limit", "0"], 2),
    (("subscriptions", "start-trial"), ["subscriptions", "start-trial", "--user", UID], 2),
    (("webhooks", "replay"), ["webhooks", "replay", "extra"], 2),
    (("cards", "list"), ["cards", "list", "--user", "not-a-uuid"], 2),
    (("cards", "default"), ["cards", "default", "pm_card_visa"], 2),  # --user missing
    (("cards", "remove"), ["cards", "remove"], 2),
    (("subscriptions", "pause"), ["subscriptions", "pause", UID, "--until", "soon"], 2),
    (("subscriptions", "resume"), ["subscriptions", "resume", "not-a-uuid"], 2),
]
LIVE_KEY = "sk_live_" + "51Hq" * 6


def leaf_commands(group: click.Group = main, path: tuple[str, ...] = ()):
    for name, command in subcommands(group):
        if isinstance(command, click.Group) and not command.invoke_without_command:
            yield from leaf_commands(command, (*path, name))
        else:
            yield (*path, name), command
            if isinstance(command, click.Group):
                yield from leaf_commands(command, (*path, name))


COMMANDS = dict(leaf_commands())


def takes_json(path: tuple[str, ...]) -> bool:
    return any(p.name == "as_json" for p in COMMANDS[path].params)


def test_every_command_has_a_rejected_input():
    assert set(COMMANDS) - {path for path, _, _ in BAD} == set()


@pytest.fixture
def run_bad(run):
    env = {
        "PAYMENT_STRIPE_API_KEY": "sk_test_rejected",
        "PAYMENT_STRIPE_API_BASE": f"http://127.0.0.1:{_closed_port()}",
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0",
    }

    def invoke(argv):
        if argv[0] == "quickstart":  # a live key, as if for real Stripe
            return run(*argv, env={"PAYMENT_STRIPE_API_KEY": LIVE_KEY})
        return run(*argv, env=env)

    return invoke


IDS = [" ".join(argv)[:60] for _, argv, _ in BAD]


@pytest.mark.parametrize(("path", "argv", "code"), BAD, ids=IDS)
def test_a_rejected_input_exits_with_its_code_and_changes_nothing(
    run_bad, database_url, path, argv, code
):
    before = sorted(database_texts(database_url))

    result = run_bad(argv)

    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip(), "the reason is printed on stderr"
    assert LIVE_KEY not in result.output
    assert sorted(database_texts(database_url)) == before


JSON_BAD = [case for case in BAD if takes_json(case[0])]


@pytest.mark.parametrize(
    ("path", "argv", "code"), JSON_BAD, ids=[" ".join(a)[:60] for _, a, _ in JSON_BAD]
)
def test_with_json_every_rejection_is_one_json_object_on_stdout(
    run_bad, database_url, path, argv, code
):
    result = run_bad([*argv, "--json"])

    assert result.exit_code == code, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] and error["message"]
    assert "Traceback" not in result.output
