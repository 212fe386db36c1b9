"""A stored event's status tells what became of it on every path: pending (to process, or
retrying), processed (a handler took it), ignored (a type the library does not act on),
parked (failed too often; waits for a replay), and again after a replay."""

from __future__ import annotations

import datetime as dt

import pytest
from webhook_helpers import event_payload, settings, sign, smtp  # noqa: F401 (fixtures)

from payment_lib import InvalidRequest
from payment_lib.services import webhook_handlers
from payment_lib.services.webhooks import MAX_ATTEMPTS

UNKNOWN_CHARGE = {
    "id": "ch_not_ours",
    "object": "charge",
    "payment_intent": "pi_not_ours",
    "status": "succeeded",
    "paid": True,
    "amount": 2000,
    "currency": "usd",
    "amount_refunded": 0,
    "metadata": {},
}


def receive(payments, event_type, event_id, obj=None):
    payload = event_payload(event_type, obj or {"id": "cus_1", "object": "customer"}, event_id)
    payments.receive_webhook(payload, sign(payload))


def statuses(payments, **filters):
    return {e.stripe_event_id: e.status for e in payments.list_webhook_events(**filters)}


def failing_handler(*_args, **_kwargs):
    raise RuntimeError("database on fire")


@pytest.fixture
def clock(payments):
    now = [dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
    payments.clock = lambda: now[0]
    return now


def park(payments, clock, event_id):
    """Process until the event is parked, moving the clock to each retry."""
    for _ in range(MAX_ATTEMPTS):
        payments.process_webhooks()
        [info] = [e for e in payments.list_webhook_events() if e.stripe_event_id == event_id]
        if info.next_attempt_at is None:
            return info
        clock[0] = info.next_attempt_at
    raise AssertionError("never parked")


def test_a_stored_event_is_pending_until_processed(payments):
    receive(payments, "charge.succeeded", "evt_new", UNKNOWN_CHARGE)

    assert statuses(payments) == {"evt_new": "pending"}
    assert payments.list_webhook_events()[0].to_dict()["status"] == "pending"


def test_an_event_with_a_handler_is_processed_even_when_it_changes_nothing(payments):
    receive(payments, "charge.succeeded", "evt_handled", UNKNOWN_CHARGE)

    payments.process_webhooks()

    [event] = payments.list_webhook_events()
    assert (event.status, event.processed) == ("processed", True)


def test_a_failing_event_stays_pending_while_it_is_retried_then_is_parked(
    payments, monkeypatch, clock
):
    monkeypatch.setitem(webhook_handlers.HANDLERS, "charge.succeeded", failing_handler)
    receive(payments, "charge.succeeded", "evt_poison", UNKNOWN_CHARGE)

    payments.process_webhooks()
    retrying = statuses(payments)
    parked = park(payments, clock, "evt_poison")

    assert retrying == {"evt_poison": "pending"}
    assert (parked.status, parked.parked, parked.processed) == ("parked", True, False)
    assert parked.attempts == MAX_ATTEMPTS


def test_a_parked_event_replayed_once_fixed_is_processed(payments, monkeypatch, clock):
    monkeypatch.setitem(webhook_handlers.HANDLERS, "charge.succeeded", failing_handler)
    receive(payments, "charge.succeeded", "evt_fixed", UNKNOWN_CHARGE)
    park(payments, clock, "evt_fixed")
    monkeypatch.undo()

    replayed = payments.replay_webhook("evt_fixed")

    assert (replayed.status, replayed.processed, replayed.parked) == ("processed", True, False)
    assert statuses(payments) == {"evt_fixed": "processed"}


def test_a_parked_event_that_fails_again_on_replay_stays_parked(payments, monkeypatch, clock):
    monkeypatch.setitem(webhook_handlers.HANDLERS, "charge.succeeded", failing_handler)
    receive(payments, "charge.succeeded", "evt_still_broken", UNKNOWN_CHARGE)
    park(payments, clock, "evt_still_broken")

    replayed = payments.replay_webhook("evt_still_broken")

    assert (replayed.status, replayed.attempts) == ("parked", MAX_ATTEMPTS + 1)


def test_a_replayed_event_of_a_type_without_a_handler_stays_ignored(payments):
    receive(payments, "customer.created", "evt_ignored")
    payments.process_webhooks()

    assert payments.replay_webhook("evt_ignored").status == "ignored"


def test_the_list_filters_by_status(payments, monkeypatch, clock):
    receive(payments, "customer.created", "evt_a_ignored")
    receive(payments, "charge.succeeded", "evt_b_processed", UNKNOWN_CHARGE)
    payments.process_webhooks()
    monkeypatch.setitem(webhook_handlers.HANDLERS, "charge.failed", failing_handler)
    receive(payments, "charge.failed", "evt_c_parked", {**UNKNOWN_CHARGE, "status": "failed"})
    park(payments, clock, "evt_c_parked")
    receive(payments, "charge.succeeded", "evt_d_pending", UNKNOWN_CHARGE)

    found = {
        status: [e.stripe_event_id for e in payments.list_webhook_events(status=status)]
        for status in ("pending", "processed", "ignored", "parked")
    }

    assert found == {
        "pending": ["evt_d_pending"],
        "processed": ["evt_b_processed"],
        "ignored": ["evt_a_ignored"],
        "parked": ["evt_c_parked"],
    }
    assert statuses(payments, unprocessed=True) == {
        "evt_c_parked": "parked",
        "evt_d_pending": "pending",
    }
    assert statuses(payments, unprocessed=True, status="parked") == {"evt_c_parked": "parked"}


def test_listing_by_an_unknown_status_is_refused(payments):
    with pytest.raises(InvalidRequest, match="status"):
        payments.list_webhook_events(status="done")
