# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""After a suite-style scenario full of card numbers (issue 15, item 1), none is anywhere: not
in any column of any table, not in the rendered logs, not in the CLI's output, not in an
email, not at Stripe. Run on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from card_numbers import cards_in_database, cards_in_text
from click.testing import CliRunner
from webhook_helpers import (  # noqa: F401 (fixtures)
    deliver,
    event_payload,
    pay_for_plan,
    settings,
    sign,
    smtp,
)

from payment_cli.cli import main
from payment_lib import Actor, InvalidRequest, InvalidSignature
from payment_lib.domain.card_data import contains_card_number
from payment_lib.observability import configure_logging

CARDS = ["4945.8073.0215.7365", "4242 4242 4242 4242", "5555_5555_5555_4444", "3782/822463/10005"]


def calls_with(payments, payment_id, card):
    """Every way in the fault-injection run found, each carrying ``card``."""
    user = str(uuid.uuid4())
    pay = {"user_id": user, "amount": "20.00", "currency": "usd",
           "payment_method": "pm_card_visa", "idempotency_key": "k"}
    plan = {"name": "x", "amount": "1.00", "currency": "usd", "interval": "month"}
    return [
        lambda: payments.pay(**{**pay, "payment_method": f"pm_{card}"}),
        lambda: payments.pay(**{**pay, "idempotency_key": card}),
        lambda: payments.pay(**{**pay, "amount": card}),
        lambda: payments.refund(payment_id, actor=Actor.admin(card), amount="1.00"),
        lambda: payments.refund(payment_id, actor=Actor.admin("ada"), note=f"card {card}"),
        lambda: payments.add_plan(card.replace(" ", "-"), **plan),
        lambda: payments.add_plan("p", **{**plan, "name": f"Plan {card}"}),
        lambda: payments.replay_webhook(f"evt_{card}"),
        lambda: payments.receive_webhook(b"{}", f"t=1,v1={card}"),
    ]


def attempts_with_cards(payments, payment_id):
    """All of them, with each card number; all refused, no message repeating the number."""
    for card in CARDS:
        for call in calls_with(payments, payment_id, card):
            with pytest.raises((InvalidRequest, InvalidSignature)) as refused:
                call()
            assert not contains_card_number(str(refused.value.to_dict()))


def cli_attempts(database_url, stripe_target, payment_id) -> str:
    """The same through payment-cli; returns everything it printed."""
    runner = CliRunner()
    env = {
        "PAYMENT_DATABASE_URL": database_url,
        "PAYMENT_STRIPE_API_KEY": stripe_target.api_key,
        "PAYMENT_STRIPE_API_BASE": stripe_target.api_base or "",
    }
    printed = []
    for card in CARDS:
        for argv in (
            ["process-refund", payment_id, "--operator", card],
            ["process-refund", payment_id, "--note", card, "--json"],
            ["pay", "--user", str(uuid.uuid4()), "--amount", card, "--currency", "usd",
             "--payment-method", "pm_card_visa", "--idempotency-key", "k"],
            ["plans", "add", card, "--name", "x", "--amount", "1", "--currency", "usd",
             "--interval", "month"],
            ["replay-webhook", f"evt_{card}"],
            ["reconcile", "--since", card],
            ["--log-level", "debug", "payments", "show", card],
        ):
            result = runner.invoke(main, argv, env=env)
            assert result.exit_code == 2, (argv, result.output)
            printed += [result.stdout, result.stderr]
    return "\n".join(printed)


def test_after_a_scenario_full_of_card_numbers_none_is_stored_logged_printed_or_sent(
    payments, settings, smtp, stripe_emulator, stripe_target
):
    logs = io.StringIO()
    configure_logging("debug", stream=logs)

    paid = pay_for_plan(payments, email="ada@example.com")
    declined = payments.pay(user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                            payment_method="pm_card_chargeDeclined", idempotency_key="declined")
    attempts_with_cards(payments, paid.id)
    refund = payments.refund(paid.id, actor=Actor.admin("ada"), amount="1.00", note="ticket 7")
    for event in stripe_emulator.events():
        deliver(payments, event)
    charge = {
        "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa", "object": "charge", "amount": 2000,
        "description": f"customer wrote {CARDS[0]}", "metadata": {"note": CARDS[1]},
        "billing_details": {"name": f"Ada {CARDS[2]}"},
    }
    payload = event_payload("charge.updated", charge)
    payments.receive_webhook(payload, sign(payload))
    worker = payments.run_worker_once()
    printed = cli_attempts(settings.database_url, stripe_target, str(paid.id))

    assert (paid.status, declined.status, refund.status) == ("succeeded", "failed", "succeeded")
    assert worker.errors == [] and worker.notifications.sent >= 2
    assert cards_in_database(settings.database_url) == []
    assert cards_in_text(logs.getvalue()) == []
    assert cards_in_text(printed) == []
    emails = [  # what people read (the MIME boundary is a random 19-digit number)
        "\n".join([message["Subject"], message["To"], *smtp.bodies(message)])
        for message in smtp.wait_for(worker.notifications.sent)
    ]
    assert cards_in_text("\n".join(emails)) == []
    with stripe_emulator.store.lock:
        at_stripe = json.dumps(stripe_emulator.store.objects, default=str)
    assert not contains_card_number(at_stripe)
    assert "webhook received" in logs.getvalue()  # the logs were captured
