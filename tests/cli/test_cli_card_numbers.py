"""Every payment-cli option and argument refuses a card number (issue 15, item 1): exit 2, one
error line naming the option and never repeating the number, nothing stored, nothing of it in
the output. Numbers too: ``--interval 0.4242424242424242`` is refused, not run."""

from __future__ import annotations

import click
import pytest
from card_numbers import database_texts, embedded_cards
from command_tree import subcommands
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from payment_cli.cli import main
from payment_lib.domain.card_data import contains_card_number

UID = "3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b"

# A valid value for each parameter of each command (by parameter name); a card number then
# replaces one of them at a time. Flags take no text and are left out.
VALID = {
    ("db", "upgrade"): {"revision": "head"},
    ("db", "downgrade"): {"revision": "-1"},
    ("db", "current"): {},
    ("plans", "add"): {
        "plan_id": "pro", "name": "Pro", "amount": "9.99", "currency": "usd",
        "interval": "month", "interval_count": "1", "trial_days": "14",
    },
    ("plans", "list"): {},
    ("plans", "seed-demo"): {},
    ("pay",): {
        "user_id": UID, "amount": "20.00", "currency": "usd", "payment_method": "pm_card_visa",
        "idempotency_key": "order-1", "plan_id": "basic-monthly",
        "customer_email": "ada@example.com", "return_url": "https://shop.example/back",
        "description": "Order 1042",
    },
    ("payments", "show"): {"payment_id": UID},
    ("payments", "list"): {
        "status": "failed", "user_id": UID, "since_text": "2027-01-01T00:00:00Z",
        "until_text": "2027-01-02T00:00:00Z", "limit": "10", "cursor": "abc",
    },
    ("refunds", "list"): {
        "status": "pending", "payment_id": UID, "since_text": "2027-01-01T00:00:00Z",
        "until_text": "2027-01-02T00:00:00Z", "limit": "10", "cursor": "abc",
    },
    ("refunds", "show"): {"refund_id": UID},
    ("subscriptions", "list"): {
        "status": "active", "plan_id": "pro", "user_id": UID, "limit": "10", "cursor": "abc",
    },
    ("notifications", "list"): {"status": "failed", "recipient": "ada@example.com",
                                "limit": "10"},
    ("notifications", "resend"): {"notification_id": UID},
    ("plans", "update"): {"plan_id": "pro", "name": "Pro+"},
    ("plans", "archive"): {"plan_id": "pro"},
    ("payments", "refresh"): {"payment_id": UID},
    ("subscriptions", "show"): {"user_id": UID},
    ("subscriptions", "cancel"): {"subscription_id": UID},
    ("subscriptions", "start-trial"): {
        "user_id": UID, "plan_id": "pro", "payment_method": "pm_card_visa",
        "customer_email": "ada@example.com",
    },
    ("subscriptions", "retry"): {"subscription_id": UID},
    ("subscriptions", "change-plan"): {"subscription_id": UID, "plan_id": "pro-monthly"},
    ("subscriptions", "pause"): {"subscription_id": UID, "until_text": "2030-01-01"},
    ("subscriptions", "resume"): {"subscription_id": UID},
    ("cards", "list"): {"user_id": UID},
    ("cards", "default"): {"user_id": UID, "payment_method": "pm_card_visa"},
    ("cards", "remove"): {"payment_method": "pm_card_visa"},
    ("billing", "run"): {
        "now_text": "2027-01-31T00:00:00Z", "subscription_id": UID, "user_id": UID,
    },
    ("process-refund",): {
        "payment_id": UID, "amount": "5.00", "reason": "duplicate", "note": "ticket 1",
        "idempotency_key": "refund-1", "operator": "olga", "source": "-",
    },
    ("webhooks", "receive"): {"signature": "t=1,v1=abc", "source": "-", "many": "-"},
    ("webhooks", "list"): {
        "status": "pending", "event_type": "charge.refunded",
        "since_text": "2027-01-01T00:00:00Z", "cursor": "abc", "limit": "10",
    },
    ("replay-webhook",): {"event_id": "evt_1", "source": "-"},
    ("webhooks", "replay"): {},
    ("doctor",): {"worker_seen_within": "300"},
    ("stats",): {},
    ("worker",): {"interval": "1"},
    ("reconcile",): {"since_text": "2027-01-01T00:00:00Z", "until_text": "2027-01-02T00:00:00Z"},
    ("disputes", "list"): {"status": "lost", "limit": "10"},
    ("disputes", "show"): {"dispute_id": "dp_1"},
    ("docs",): {"topic": "cli"},
}
# Not driven: the emulator is a test server that listens until stopped, and quickstart takes
# no text. The global --database-url is configuration from the operator, like PAYMENT_*.
NOT_DRIVEN = {
    ("stripe-emulator",),
    ("stripe-emulator", "trigger"),
    ("stripe-emulator", "events", "resend"),
    ("quickstart",),
}
GLOBAL = {"log_level": "warning"}


def leaf_commands(group=main, path=()):
    for name, command in subcommands(group):
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(leaf_commands())


def command_line(path, values, global_values=GLOBAL):
    """argv for ``path`` with ``values`` (parameter name -> text)."""
    argv = []
    for param in main.params:
        if param.name in global_values:
            argv += [param.opts[0], global_values[param.name]]
    argv += list(path)
    command = COMMANDS[path]
    positional = []
    for param in command.params:
        if param.name not in values:
            continue
        if isinstance(param, click.Argument):
            positional.append(values[param.name])
        else:
            argv += [param.opts[0], values[param.name]]
    return [*argv, *positional]


CASES = [(path, name) for path, values in VALID.items() for name in values]
CASES += [((), name) for name in GLOBAL]


def test_every_command_and_every_text_parameter_is_driven():
    assert set(COMMANDS) - NOT_DRIVEN == set(VALID)
    for path, values in VALID.items():
        takes_text = {
            p.name for p in COMMANDS[path].params if not getattr(p, "is_flag", False)
        }
        assert takes_text == set(values), path


@pytest.mark.parametrize(
    ("path", "name"), CASES, ids=[f"{'-'.join(path) or 'global'}:{name}" for path, name in CASES]
)
@hypothesis_settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(card=embedded_cards())
def test_a_card_number_in_any_option_exits_2_and_is_never_printed(
    run, database_url, path, name, card
):
    before = list(database_texts(database_url))
    if path:
        argv = command_line(path, {**VALID[path], name: card})
    else:
        argv = command_line(("plans", "list"), {}, {**GLOBAL, name: card})

    result = run(*argv)

    assert result.exit_code == 2, (argv, result.output)
    assert not contains_card_number(result.stdout), result.stdout
    assert not contains_card_number(result.stderr), result.stderr
    assert "Traceback" not in result.output
    assert list(database_texts(database_url)) == before


@pytest.mark.parametrize("as_json", [False, True])
def test_the_refusal_names_the_option_in_text_and_in_json(run, as_json):
    flags = ["--json"] if as_json else []
    result = run("process-refund", UID, "--note=card 4945.8073.0215.7365", *flags)

    assert result.exit_code == 2
    if as_json:
        import json

        error = json.loads(result.stdout)["error"]
        assert (error["code"], error["param"]) == ("invalid_request", "--note")
    else:
        [line] = result.stderr.splitlines()
        assert line.startswith("error: --note looks like it holds a card number")
        assert line.endswith("[invalid_request]")
