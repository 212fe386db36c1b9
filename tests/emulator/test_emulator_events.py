"""Events for every state change, listable and retrievable; signed webhook delivery."""

from __future__ import annotations

import json

import pytest
import stripe
from emulator_helpers import WebhookReceiver, http_call, pay

from payment_lib.testing import StripeEmulator

SECRET = "whsec_test_secret_for_the_emulator"


def types_for(client: stripe.StripeClient, object_id: str) -> list[str]:
    """Event types whose object is object_id, oldest first."""
    events = client.v1.events.list(params={"limit": 100}).data
    return [event.type for event in reversed(events) if event.data.object["id"] == object_id]


@pytest.mark.emulator_only
def test_a_successful_payment_records_payment_intent_and_charge_events(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client)

    assert types_for(client, intent.id) == ["payment_intent.created", "payment_intent.succeeded"]
    assert types_for(client, str(intent.latest_charge)) == ["charge.succeeded"]


@pytest.mark.emulator_only
def test_a_declined_payment_records_payment_failed_and_charge_failed(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.CardError) as caught:
        pay(client, "pm_card_visa_chargeDeclined")
    intent_id = caught.value.error.payment_intent["id"]  # type: ignore[union-attr,index]

    assert types_for(client, intent_id) == [
        "payment_intent.created",
        "payment_intent.payment_failed",
    ]
    assert types_for(client, str(caught.value.error.charge)) == ["charge.failed"]  # type: ignore[union-attr]


@pytest.mark.emulator_only
def test_requiring_action_records_payment_intent_requires_action(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, "pm_card_threeDSecure2Required")

    assert types_for(client, intent.id)[-1] == "payment_intent.requires_action"


@pytest.mark.emulator_only
def test_cancelling_records_payment_intent_canceled(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    client.v1.payment_intents.cancel(intent.id)

    assert types_for(client, intent.id)[-1] == "payment_intent.canceled"


@pytest.mark.emulator_only
def test_a_refund_records_charge_refunded_and_refund_created(client: stripe.StripeClient) -> None:
    intent = pay(client)

    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 400})

    assert types_for(client, str(intent.latest_charge))[-1] == "charge.refunded"
    assert types_for(client, refund.id) == ["refund.created"]


def test_events_can_be_listed_by_type(client: stripe.StripeClient) -> None:
    pay(client)

    listed = client.v1.events.list(params={"type": "charge.succeeded", "limit": 3})

    assert {event.type for event in listed.data} == {"charge.succeeded"}


def test_an_event_is_retrievable_with_stripes_shape(client: stripe.StripeClient) -> None:
    pay(client)
    listed = client.v1.events.list(params={"type": "payment_intent.succeeded", "limit": 1})

    event = client.v1.events.retrieve(listed.data[0].id)

    assert (event.id[:4], event.object, event.livemode, event.data.object["object"]) == (
        "evt_",
        "event",
        False,
        "payment_intent",
    )


@pytest.mark.emulator_only
def test_an_event_carries_the_idempotency_key_of_its_request(client: stripe.StripeClient) -> None:
    client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd"}, options={"idempotency_key": "order-17"}
    )

    event = client.v1.events.list(params={"limit": 1}).data[0]

    assert event.request.idempotency_key == "order-17"  # type: ignore[union-attr]


@pytest.fixture
def endpoint(stripe_emulator: StripeEmulator, webhook_receiver: WebhookReceiver) -> WebhookReceiver:
    """The webhook receiver, configured as the emulator's endpoint with SECRET."""
    stripe_emulator.webhooks.configure(url=webhook_receiver.url, secret=SECRET)
    return webhook_receiver


@pytest.mark.emulator_only
def test_events_are_delivered_signed_so_the_sdk_verifies_them(
    client: stripe.StripeClient,
    endpoint: WebhookReceiver,
) -> None:
    pay(client)

    received = endpoint.wait_for(3)

    events = [
        stripe.Webhook.construct_event(item.body, item.signature, SECRET) for item in received
    ]
    assert sorted(event.type for event in events) == [
        "charge.succeeded",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]


@pytest.mark.emulator_only
def test_a_delivery_signed_with_another_secret_fails_verification(
    client: stripe.StripeClient,
    endpoint: WebhookReceiver,
) -> None:
    client.v1.customers.create()

    received = endpoint.wait_for(1)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received[0].body, received[0].signature, "whsec_other")


@pytest.mark.emulator_only
def test_a_failed_delivery_is_retried_until_it_succeeds(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    webhook_receiver: WebhookReceiver,
) -> None:
    stripe_emulator.webhooks.configure(
        url=webhook_receiver.url, secret=SECRET, retry_delays=(0.01, 0.02)
    )
    webhook_receiver.answer_next_with(500, 503)
    client.v1.customers.create()

    received = webhook_receiver.wait_for(3)

    assert len({json.loads(item.body)["id"] for item in received}) == 1
    assert stripe_emulator.webhooks.wait_idle()


@pytest.mark.emulator_only
def test_retries_stop_after_the_configured_attempts(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    webhook_receiver: WebhookReceiver,
) -> None:
    stripe_emulator.webhooks.configure(
        url=webhook_receiver.url, secret=SECRET, retry_delays=(0.01,)
    )
    webhook_receiver.answer_next_with(500, 500, 500)
    client.v1.customers.create()

    assert stripe_emulator.webhooks.wait_idle()
    assert len(webhook_receiver.received) == 2


@pytest.mark.emulator_only
def test_each_attempt_is_signed_anew(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    webhook_receiver: WebhookReceiver,
) -> None:
    stripe_emulator.webhooks.configure(url=webhook_receiver.url, secret=SECRET, retry_delays=(1.1,))
    webhook_receiver.answer_next_with(500)
    client.v1.customers.create()

    received = webhook_receiver.wait_for(2)

    assert received[0].signature != received[1].signature


@pytest.mark.emulator_only
def test_a_stored_event_can_be_sent_again(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    endpoint: WebhookReceiver,
) -> None:
    client.v1.customers.create()
    first = endpoint.wait_for(1)[0]

    stripe_emulator.webhooks.resend(json.loads(first.body)["id"])

    assert endpoint.wait_for(2)[1].body == first.body


@pytest.mark.emulator_only
def test_held_events_can_be_released_in_reverse_order(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    endpoint: WebhookReceiver,
) -> None:
    stripe_emulator.webhooks.hold()
    pay(client)

    stripe_emulator.webhooks.release(reverse=True)
    endpoint.wait_for(3)

    assert endpoint.event_types() == [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.created",
    ]


@pytest.mark.emulator_only
def test_held_events_can_be_released_twice_each(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    endpoint: WebhookReceiver,
) -> None:
    stripe_emulator.webhooks.hold()
    client.v1.customers.create()

    stripe_emulator.webhooks.release(duplicates=True)

    received = endpoint.wait_for(2)
    assert received[0].body == received[1].body


def test_event_types_can_be_matched_with_a_wildcard(client: stripe.StripeClient) -> None:
    pay(client)

    listed = client.v1.events.list(params={"type": "charge.*", "limit": 5})

    assert listed.data and {event.type.split(".")[0] for event in listed.data} == {"charge"}


@pytest.mark.emulator_only
def test_during_a_secret_rotation_both_secrets_verify(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    webhook_receiver: WebhookReceiver,
) -> None:
    stripe_emulator.webhooks.configure(url=webhook_receiver.url, secret=[SECRET, "whsec_new"])
    client.v1.customers.create()

    item = webhook_receiver.wait_for(1)[0]

    for secret in (SECRET, "whsec_new"):
        stripe.Webhook.construct_event(item.body, item.signature, secret)


@pytest.mark.emulator_only
def test_webhooks_can_be_configured_over_http(
    client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    webhook_receiver: WebhookReceiver,
) -> None:
    settings = {"url": webhook_receiver.url, "secret": SECRET}
    http_call("POST", f"{stripe_emulator.url}/_emulator/webhooks", json.dumps(settings).encode())
    client.v1.customers.create()

    item = webhook_receiver.wait_for(1)[0]

    assert stripe.Webhook.construct_event(item.body, item.signature, SECRET).type == (
        "customer.created"
    )
