"""Triggering events in a running emulator as Stripe CLI's ``stripe trigger`` does: the objects
behind the event are created through the API, so the emulator records it and delivers it
signed as usual; and resending a recorded event."""

from __future__ import annotations

import json

import pytest
import stripe
from emulator_helpers import WebhookReceiver, http_call, recorded_event_types

from payment_lib.testing import StripeEmulator
from payment_lib.testing.trigger import EVENT_TYPES, TriggerError, resend, trigger

SECRET = "whsec_trigger_test_secret"


def test_every_event_type_the_emulator_records_can_be_triggered() -> None:
    assert sorted(recorded_event_types() - set(EVENT_TYPES)) == []


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_triggering_an_event_type_makes_the_emulator_record_one(
    stripe_emulator: StripeEmulator, event_type: str
) -> None:
    triggered = trigger(stripe_emulator.url, event_type)

    recorded = [event["id"] for event in stripe_emulator.events(event_type)]
    assert (triggered.event["type"], triggered.event["id"] in recorded) == (event_type, True)


def test_a_triggered_event_comes_after_the_events_of_the_objects_behind_it(
    stripe_emulator: StripeEmulator,
) -> None:
    triggered = trigger(stripe_emulator.url, "charge.refunded")

    assert [event["type"] for event in triggered.events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
    ]


def test_a_triggered_event_is_delivered_signed_to_the_webhook_endpoint(
    stripe_emulator: StripeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_emulator.webhooks.configure(url=webhook_receiver.url, secret=SECRET)

    triggered = trigger(stripe_emulator.url, "payment_intent.succeeded")

    received = webhook_receiver.wait_for(len(triggered.events))
    delivered = [
        stripe.Webhook.construct_event(item.body, item.signature, SECRET) for item in received
    ]
    assert triggered.event["id"] in [event.id for event in delivered]


def test_an_unknown_event_type_is_refused_naming_the_supported_ones(
    stripe_emulator: StripeEmulator,
) -> None:
    with pytest.raises(TriggerError) as refused:
        trigger(stripe_emulator.url, "invoice.paid")

    assert "invoice.paid" in str(refused.value) and "payment_intent.succeeded" in str(refused.value)


def test_an_emulator_that_is_not_running_is_reported() -> None:
    with pytest.raises(TriggerError) as refused:
        trigger("http://127.0.0.1:9", "customer.created")

    assert "cannot reach" in str(refused.value)


def test_a_recorded_event_is_delivered_again_when_resent(
    stripe_emulator: StripeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_emulator.webhooks.configure(url=webhook_receiver.url, secret=SECRET)
    event_id = trigger(stripe_emulator.url, "customer.created").event["id"]
    webhook_receiver.wait_for(1)

    resend(stripe_emulator.url, event_id)

    received = webhook_receiver.wait_for(2)
    assert [json.loads(item.body)["id"] for item in received] == [event_id, event_id]


def test_resending_an_event_the_emulator_never_recorded_is_404(
    stripe_emulator: StripeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_emulator.webhooks.configure(url=webhook_receiver.url, secret=SECRET)

    status, _, body = http_call("POST", f"{stripe_emulator.url}/_emulator/events/evt_nope/resend")

    assert (status, json.loads(body)["error"]["code"]) == (404, "resource_missing")


def test_resending_without_a_webhook_endpoint_is_refused(stripe_emulator: StripeEmulator) -> None:
    event_id = trigger(stripe_emulator.url, "customer.created").event["id"]

    with pytest.raises(TriggerError) as refused:
        resend(stripe_emulator.url, event_id)

    assert "webhook" in str(refused.value)
