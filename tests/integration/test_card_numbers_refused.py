# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""Card numbers are refused by every public function that takes text (issue 15, item 1): a
hypothesis-made card number, in any layout and embedding, in any text argument of any
``Payments`` method gets ``invalid_request`` (``invalid_signature`` for a webhook's signature
header), a message naming the field and never the number, and changes nothing: not the
database, not Stripe, and nothing of it in the logs. Stored webhook payloads are scrubbed."""

from __future__ import annotations

import inspect
import io
import json
import uuid

import pytest
from card_numbers import cards_in_database, cards_in_text, database_texts, embedded_cards
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from webhook_helpers import (  # noqa: F401 (fixtures: settings with a webhook secret)
    SECRET,
    event_payload,
    settings,
    sign,
    smtp,
)

from payment_lib import Actor, InvalidRequest, InvalidSignature, Payments, Settings
from payment_lib.domain.card_data import contains_card_number
from payment_lib.observability import configure_logging

UID = "3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b"


def _pay(payments, **given):
    fields = {
        "user_id": UID,
        "amount": "20.00",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "idempotency_key": "order-1",
        "plan_id": "basic-monthly",
        "customer_email": "ada@example.com",
        "return_url": "https://shop.example/back",
        "description": "Order 1042",
        "metadata": {"order": "1042"},
    }
    return payments.pay(**{**fields, **given})


def _add_plan(payments, plan_id="pro", **given):
    fields = {"name": "Pro", "amount": "9.99", "currency": "usd", "interval": "month"}
    return payments.add_plan(plan_id, **{**fields, **given})


def _refund(payments, payment_id=UID, **given):
    return payments.refund(payment_id, **{"actor": Actor.admin("ada"), **given})


# Each public method that takes text: how to call it with one argument replaced, and which
# arguments take text. A card number goes into each of them in turn.
CALLS = {
    "pay": (_pay, ["user_id", "amount", "currency", "payment_method", "idempotency_key",
                   "plan_id", "customer_email", "return_url", "description", "metadata"]),
    "add_plan": (_add_plan, ["plan_id", "name", "amount", "currency", "interval"]),
    "start_trial": (
        lambda p, **given: p.start_trial(
            **{"user_id": UID, "plan_id": "pro", "payment_method": "pm_card_visa",
               "customer_email": "ada@example.com", **given}
        ),
        ["user_id", "plan_id", "payment_method", "customer_email"],
    ),
    "retry_subscription": (lambda p, subscription_id=UID: p.retry_subscription(subscription_id),
                           ["subscription_id"]),
    "run_billing": (
        lambda p, **given: p.run_billing(dry_run=True, **given),
        ["subscription_id", "user_id"],
    ),
    "refund": (_refund, ["payment_id", "actor", "amount", "reason", "note", "idempotency_key"]),
    "change_payment_method": (
        lambda p, subscription_id=UID, payment_method="pm_card_visa": p.change_payment_method(
            subscription_id, payment_method
        ),
        ["subscription_id", "payment_method"],
    ),
    "get_payment": (lambda p, payment_id: p.get_payment(payment_id), ["payment_id"]),
    "list_payments": (lambda p, user_id: p.list_payments(user_id), ["user_id"]),
    "refresh_payment": (lambda p, payment_id: p.refresh_payment(payment_id), ["payment_id"]),
    "get_refund": (lambda p, refund_id: p.get_refund(refund_id), ["refund_id"]),
    "list_refunds": (lambda p, payment_id: p.list_refunds(payment_id), ["payment_id"]),
    "get_subscription": (lambda p, s: p.get_subscription(s), ["s"]),
    "list_subscriptions": (lambda p, user_id: p.list_subscriptions(user_id), ["user_id"]),
    "cancel_subscription": (lambda p, s: p.cancel_subscription(s), ["s"]),
    "change_plan": (
        lambda p, subscription_id=UID, plan_id="pro-monthly": p.change_plan(
            subscription_id, plan_id, dry_run=True
        ),
        ["subscription_id", "plan_id"],
    ),
    "pause_subscription": (lambda p, s: p.pause_subscription(s), ["s"]),
    "resume_subscription": (lambda p, s: p.resume_subscription(s), ["s"]),
    "list_cards": (lambda p, user_id: p.list_cards(user_id), ["user_id"]),
    "set_default_card": (
        lambda p, user_id=UID, payment_method="pm_card_visa": p.set_default_card(
            user_id, payment_method
        ),
        ["user_id", "payment_method"],
    ),
    "remove_card": (lambda p, payment_method: p.remove_card(payment_method), ["payment_method"]),
    "get_dispute": (lambda p, dispute_id: p.get_dispute(dispute_id), ["dispute_id"]),
    "list_disputes": (lambda p, status: p.list_disputes(status), ["status"]),
    "list_webhook_events": (lambda p, status: p.list_webhook_events(status=status), ["status"]),
    "list_notifications": (lambda p, recipient: p.list_notifications(recipient), ["recipient"]),
    "replay_webhook": (lambda p, event_id: p.replay_webhook(event_id), ["event_id"]),
    "receive_webhook": (
        lambda p, signature: p.receive_webhook(event_payload("charge.succeeded", {}), signature),
        ["signature"],
    ),
    "find_payments": (lambda p, **given: p.find_payments(**given),
                      ["status", "user_id", "cursor"]),
    "find_refunds": (lambda p, **given: p.find_refunds(**given),
                     ["status", "payment_id", "cursor"]),
    "find_subscriptions": (lambda p, **given: p.find_subscriptions(**given),
                           ["status", "plan_id", "user_id", "cursor"]),
    "find_webhook_events": (lambda p, **given: p.find_webhook_events(**given),
                            ["status", "event_type", "cursor"]),
    "resend_notification": (lambda p, notification_id: p.resend_notification(notification_id),
                            ["notification_id"]),
    "update_plan": (lambda p, plan_id="basic-monthly", name="Basic+": p.update_plan(
        plan_id, name=name), ["plan_id", "name"]),
    "archive_plan": (lambda p, plan_id: p.archive_plan(plan_id), ["plan_id"]),
    "upgrade_database": (lambda p, revision: p.upgrade_database(revision), ["revision"]),
    "downgrade_database": (lambda p, revision: p.downgrade_database(revision), ["revision"]),
}
# Public methods that take no text from a caller (times, numbers, callbacks or nothing), and
# from_settings, whose Settings are the operator's configuration.
NO_TEXT = {
    "close", "from_settings", "database_revision", "latest_revision", "known_revisions",
    "list_plans",
    "process_webhooks", "reconcile", "recover_pending_refunds", "recover_stale_payments",
    "refund_duplicate_purchases", "remind_expiring_cards", "run_worker", "run_worker_once",
    "seed_demo_plans", "send_notifications", "operations_stats", "check_health",
    "record_worker_heartbeat",
}
CASES = [(method, argument) for method, (_, arguments) in CALLS.items() for argument in arguments]


def test_every_public_method_is_driven_with_card_numbers_or_takes_no_text():
    public = {name for name, _ in inspect.getmembers(Payments) if not name.startswith("_")}
    methods = {name for name in public if callable(getattr(Payments, name))}
    assert methods - NO_TEXT == set(CALLS)


def _shaped(argument, card):
    if argument == "metadata":
        return {"order": card}
    if argument == "actor":
        return Actor.admin(card)
    return card


def stripe_texts(emulator) -> str:
    """Everything the emulator (our Stripe) holds, as text."""
    with emulator.store.lock:
        return json.dumps([emulator.store.objects, [e.payload for e in emulator.store.events]],
                          default=str)


@pytest.fixture
def logs():
    """Log lines as configure_logging renders them (JSON, scrubbed), at debug level."""
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    return stream


@pytest.mark.parametrize(("method", "argument"), CASES)
@hypothesis_settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(card=embedded_cards())
def test_a_card_number_in_any_text_argument_is_refused_and_changes_nothing(
    payments, stripe_emulator, logs, method, argument, card
):
    call, _ = CALLS[method]
    before = list(database_texts(payments.settings.database_url))

    with pytest.raises((InvalidRequest, InvalidSignature)) as refused:
        call(payments, **{argument: _shaped(argument, card)})

    error = refused.value
    assert not contains_card_number(json.dumps(error.to_dict())), error.to_dict()
    if isinstance(error, InvalidRequest):
        assert error.code == "invalid_request"
    assert list(database_texts(payments.settings.database_url)) == before
    assert not contains_card_number(stripe_texts(stripe_emulator))
    assert cards_in_text(logs.getvalue()) == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda p: _pay(p, amount="4945 8073 0215 7365"), "amount"),
        (lambda p: _pay(p, currency="4945807302157365"), "currency"),
        (lambda p: _add_plan(p, amount="4945807302157365"), "amount"),
        (lambda p: _refund(p, reason="4945.8073.0215.7365"), "reason"),
        (lambda p: _refund(p, amount="4945807302157365"), "amount"),
        (lambda p: p.replay_webhook("evt_4945807302157365"), "event_id"),
        (lambda p: p.get_dispute("dp_4945807302157365"), "dispute_id"),
    ],
)
def test_messages_that_used_to_repeat_the_input_name_the_field_instead(payments, call, field):
    with pytest.raises(InvalidRequest) as refused:
        call(payments)
    assert refused.value.param == field
    assert refused.value.message.startswith(f"{field} looks like it holds a card number")


@pytest.fixture
def webhook_payments(database_url):
    settings = Settings(database_url=database_url, webhook_secrets=(SECRET,))
    with Payments.from_settings(settings) as payments:
        yield payments


def test_a_stored_webhook_payload_is_scrubbed_of_card_numbers(webhook_payments, logs):
    card_object = {
        "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "charge",
        "description": "customer wrote 4945.8073.0215.7365 here",
        "metadata": {"note": "4242 4242 4242 4242", "4242424242424242": "as a key"},
        "billing_details": {"name": "Ada 5555-5555-5555-4444"},
        "amount": 2000,
        "number": 4242424242424242,
    }
    payload = event_payload("charge.succeeded", card_object, "evt_cards_1")

    received = webhook_payments.receive_webhook(payload, sign(payload, SECRET))

    assert received.duplicate is False
    [stored] = webhook_payments.list_webhook_events()
    assert stored.stripe_event_id == "evt_cards_1"
    assert cards_in_database(webhook_payments.settings.database_url) == []
    assert cards_in_text(logs.getvalue()) == []
    with webhook_payments.database.unit_of_work() as uow:
        event = uow.webhook_events.get("evt_cards_1")
        assert event is not None
        obj = event.payload["data"]["object"]
    assert obj["description"] == "customer wrote [REDACTED] here"
    assert obj["metadata"] == {"note": "[REDACTED]", "[REDACTED]": "as a key"}
    assert (obj["amount"], obj["number"]) == (2000, "[REDACTED]")


def test_a_stored_webhook_payload_keeps_what_handlers_need(webhook_payments):
    intent = {
        "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "payment_intent",
        "amount": 2000,
        "currency": "usd",
        "created": 1764532800,
        "metadata": {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())},
    }
    payload = event_payload("payment_intent.succeeded", intent, "evt_keep_1")
    webhook_payments.receive_webhook(payload, sign(payload, SECRET))
    with webhook_payments.database.unit_of_work() as uow:
        stored = uow.webhook_events.get("evt_keep_1")
        assert stored is not None
        assert stored.payload["data"]["object"] == intent
