# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""Stripe webhooks: verified, stored once, processed later, converging in any order
(seed US4: T035-T038), on both databases, with the emails read from a real SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from structlog.testing import capture_logs
from webhook_helpers import (  # noqa: F401 (fixtures)
    OLD_SECRET,
    SECRET,
    deliver,
    event_payload,
    intent_events,
    intent_for,
    lose_stripe_answers,
    pay_for_plan,
    settings,
    sign,
    smtp,
    stripe_id,
    webhook_endpoint,
)

from payment_lib import InvalidRequest, InvalidSignature, Payments, ProviderUnavailable
from payment_lib.services import webhook_handlers
from payment_lib.services.webhooks import MAX_ATTEMPTS

EMAIL = "ada@example.com"


def rows(payments, sql):
    with payments.database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def stored_events(payments):
    return rows(
        payments,
        "SELECT stripe_event_id, event_type, processed, signature_verified "
        "FROM webhook_events ORDER BY created_at",
    )


def charge(intent="pi_unknown", status="succeeded"):
    return {
        "id": stripe_id("ch", 20),
        "object": "charge",
        "payment_intent": intent,
        "status": status,
        "paid": status == "succeeded",
        "amount": 2000,
        "currency": "usd",
        "amount_refunded": 0,
        "metadata": {},
    }


def pay(payments, user_id, method="pm_card_visa", **extra):
    """A 20.00 USD payment under a fresh key, with receipts to EMAIL."""
    fields = {"amount": "20.00", "customer_email": EMAIL, **extra}
    return payments.pay(
        user_id=user_id,
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        **fields,
    )


def pay_with_lost_answer(payments, user_id, emulator, method="pm_card_visa"):
    """A payment Stripe made but whose answer never came back: pending until a webhook
    says what happened. Returns it and the emulator's events about its PaymentIntent."""
    lose_stripe_answers(emulator)
    with pytest.raises(ProviderUnavailable):
        pay(payments, user_id, method)
    emulator.faults.clear()
    [payment] = [p for p in payments.list_payments(user_id) if p.status == "unknown"]
    return payment, intent_events(emulator, intent_for(emulator, payment.id)["id"])


def of_type(events, event_type):
    [event] = [e for e in events if e["type"] == event_type]
    return event


# Receiving (T035, T038) ---------------------------------------------------------------------


def test_a_validly_signed_event_is_stored_once_and_not_processed_inline(payments):
    payload = event_payload("charge.succeeded", charge(), "evt_valid_1")

    received = payments.receive_webhook(payload, sign(payload))

    assert (received.stripe_event_id, received.event_type) == ("evt_valid_1", "charge.succeeded")
    assert (received.duplicate, received.status) == (False, "stored")
    assert stored_events(payments) == [("evt_valid_1", "charge.succeeded", False, True)]
    [(kept,)] = rows(payments, "SELECT payload FROM webhook_events")
    kept = json.loads(kept) if isinstance(kept, str) else kept
    assert kept == json.loads(payload)


def test_an_invalid_signature_is_refused_and_nothing_is_stored(payments):
    payload = event_payload("charge.succeeded", charge())
    forged = sign(payload, "whsec_not_ours_0123456789")

    with pytest.raises(InvalidSignature) as refused:
        payments.receive_webhook(payload, forged)

    assert refused.value.code == "invalid_signature"
    assert stored_events(payments) == []


def test_a_missing_signature_is_refused_as_invalid(payments):
    payload = event_payload("charge.succeeded", charge())
    for header in (None, ""):
        with pytest.raises(InvalidSignature):
            payments.receive_webhook(payload, header)
    assert stored_events(payments) == []


def test_a_tampered_payload_is_refused(payments):
    payload = event_payload("charge.succeeded", charge())
    header = sign(payload)
    with pytest.raises(InvalidSignature):
        payments.receive_webhook(payload.replace(b"2000", b"9000"), header)


def test_a_signature_older_than_the_tolerance_is_refused_as_a_replay(payments):
    payload = event_payload("charge.succeeded", charge())
    old = sign(payload, timestamp=int(time.time()) - 301)

    with pytest.raises(InvalidSignature, match="tolerance"):
        payments.receive_webhook(payload, old)
    assert stored_events(payments) == []


def test_a_signature_dated_beyond_the_tolerance_in_the_future_is_refused(payments):
    payload = event_payload("charge.succeeded", charge())
    tomorrow = sign(payload, timestamp=int(time.time()) + 86_400)

    with pytest.raises(InvalidSignature, match="future"):
        payments.receive_webhook(payload, tomorrow)
    assert stored_events(payments) == []
    assert payments.receive_webhook(payload, sign(payload, timestamp=int(time.time()) + 30))


def test_during_a_secret_rotation_events_signed_with_either_secret_are_accepted(payments, settings):
    rotating = Payments.from_settings(
        settings.model_copy(update={"webhook_secrets": (SecretStr(SECRET), SecretStr(OLD_SECRET))})
    )
    try:
        first = event_payload("charge.succeeded", charge())
        second = event_payload("charge.succeeded", charge())
        both = event_payload("charge.succeeded", charge())
        rotating.receive_webhook(first, sign(first, OLD_SECRET))
        rotating.receive_webhook(second, sign(second, SECRET))
        rotating.receive_webhook(both, sign(both, SECRET, OLD_SECRET))
        with pytest.raises(InvalidSignature):
            payments.receive_webhook(first, sign(first, OLD_SECRET))  # old secret not configured
    finally:
        rotating.close()
    assert len(stored_events(payments)) == 3


def test_without_a_configured_secret_nothing_is_accepted(payments, settings):
    unconfigured = Payments.from_settings(settings.model_copy(update={"webhook_secrets": ()}))
    payload = event_payload("charge.succeeded", charge())
    try:
        with pytest.raises(InvalidSignature, match="PAYMENT_WEBHOOK_SECRETS"):
            unconfigured.receive_webhook(payload, sign(payload))
    finally:
        unconfigured.close()


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'{"id": "evt_1"}',
        b'{"id": 5, "type": "charge.succeeded", "data": {}}',
    ],
)
def test_a_signed_but_malformed_event_is_refused(payments, payload):
    with pytest.raises(InvalidRequest):
        payments.receive_webhook(payload, sign(payload))
    assert stored_events(payments) == []


def test_an_oversized_payload_is_refused_before_anything_else(payments):
    payload = event_payload("charge.succeeded", {**charge(), "padding": "x" * 2_000_000})
    with pytest.raises(InvalidRequest, match="too large"):
        payments.receive_webhook(payload, sign(payload))


def test_a_duplicate_delivery_is_acknowledged_and_processed_once(
    payments, user_id, stripe_emulator
):
    """T038: the same event twice: both acknowledged, stored and applied once."""
    payment, events = pay_with_lost_answer(payments, user_id, stripe_emulator)
    succeeded = of_type(events, "payment_intent.succeeded")

    first, second = deliver(payments, succeeded), deliver(payments, succeeded)
    payments.process_webhooks()
    deliver(payments, succeeded)
    payments.process_webhooks()

    assert (first.duplicate, second.duplicate) == (False, True)
    assert stored_events(payments) == [(succeeded["id"], "payment_intent.succeeded", True, True)]
    assert rows(payments, "SELECT attempts FROM webhook_events") == [(1,)]
    assert payments.get_payment(payment.id).status == "succeeded"
    assert rows(payments, "SELECT kind FROM notifications") == [("payment_confirmation",)]


# Processing: effects (T036, T037) -----------------------------------------------------------


@pytest.fixture
def subscribed(payments, user_id):
    paid = pay_for_plan(payments, user_id, EMAIL)
    payments.send_notifications()  # the first payment's confirmation is not under test
    return payments.get_subscription(paid.subscription_id)


def renewal_with_lost_answer(payments, emulator, subscription):
    """A billing run whose renewal reaches Stripe but whose answer is lost."""
    lose_stripe_answers(emulator)
    report = payments.run_billing(now=subscription.next_billing_date)
    assert [e["code"] for e in report.errors] == ["provider_unavailable"]
    emulator.faults.clear()
    [renewal] = [p for p in payments.list_payments(subscription.user_id) if p.status == "unknown"]
    return intent_for(emulator, renewal.id)


@pytest.mark.emulator_only
def test_charge_succeeded_for_a_renewal_extends_the_subscription_and_emails_the_user(
    payments, subscribed, stripe_emulator, smtp
):
    """T036."""
    intent = renewal_with_lost_answer(payments, stripe_emulator, subscribed)
    [charged] = intent_events(stripe_emulator, intent["id"], "charge.succeeded")
    waiting = payments.get_subscription(subscribed.id)  # the unknown attempt counted as spent

    deliver(payments, charged)
    assert payments.get_subscription(subscribed.id) == waiting  # nothing processed inline
    payments.process_webhooks()
    payments.send_notifications()

    renewed = payments.get_subscription(subscribed.id)
    assert renewed.status == "active"
    assert renewed.next_billing_date > subscribed.next_billing_date
    [message] = smtp.wait_for(2)[1:]
    assert message["To"] == EMAIL and message["From"] == "billing@shop.example"
    assert "renew" in message["Subject"].lower()
    text, html = smtp.bodies(message)
    assert "9.99" in text and "9.99" in html


@pytest.mark.emulator_only
def test_charge_failed_for_a_renewal_sets_past_due_schedules_a_retry_and_emails(
    payments, subscribed, stripe_emulator, smtp
):
    """T037."""
    payments.change_payment_method(subscribed.id, "pm_card_chargeCustomerFail")
    intent = renewal_with_lost_answer(payments, stripe_emulator, subscribed)
    [failed] = intent_events(stripe_emulator, intent["id"], "charge.failed")

    deliver(payments, failed)
    payments.process_webhooks()
    payments.send_notifications()

    past_due = payments.get_subscription(subscribed.id)
    assert (past_due.status, past_due.failed_attempts) == ("past_due", 1)
    assert past_due.next_retry_at == subscribed.next_billing_date + dt.timedelta(days=1)
    [message] = smtp.wait_for(2)[1:]
    assert "past due" in message["Subject"].lower()
    text, _ = smtp.bodies(message)
    assert "declined" in text.lower()


@pytest.mark.emulator_only
def test_a_past_due_subscription_returns_to_active_when_the_retry_succeeds_by_webhook(
    payments, subscribed, stripe_emulator
):
    payments.change_payment_method(subscribed.id, "pm_card_chargeCustomerFail")
    payments.run_billing(now=subscribed.next_billing_date)
    payments.change_payment_method(subscribed.id, "pm_card_visa")
    retry_at = payments.get_subscription(subscribed.id).next_retry_at
    lose_stripe_answers(stripe_emulator)
    assert payments.run_billing(now=retry_at).errors[0]["code"] == "provider_unavailable"
    stripe_emulator.faults.clear()
    [retry] = [p for p in payments.list_payments(subscribed.user_id) if p.status == "unknown"]
    [succeeded] = intent_events(
        stripe_emulator, intent_for(stripe_emulator, retry.id)["id"], "payment_intent.succeeded"
    )

    deliver(payments, succeeded)
    payments.process_webhooks()

    recovered = payments.get_subscription(subscribed.id)
    assert (recovered.status, recovered.failed_attempts) == ("active", 0)
    assert recovered.next_billing_date > subscribed.next_billing_date


def test_payment_intent_succeeded_after_three_d_secure_completes_the_payment(
    payments, user_id, stripe_emulator, smtp
):
    result = pay(
        payments, user_id, "pm_card_threeDSecure2Required", return_url="https://shop.example/return"
    )
    assert result.status == "requires_action"
    stripe_emulator.authenticate(result.stripe_transaction_id)
    events = intent_events(
        stripe_emulator,
        result.stripe_transaction_id,
        "payment_intent.requires_action",
        "payment_intent.succeeded",
    )

    for event in reversed(events):  # out of order: the older requires_action comes last
        deliver(payments, event)
    payments.process_webhooks()
    payments.send_notifications()

    assert payments.get_payment(result.id).status == "succeeded"
    kinds = sorted(m["Subject"] for m in smtp.wait_for(2))
    assert len(kinds) == 2  # action required (sync result), then the confirmation, once each
    assert rows(payments, "SELECT kind FROM notifications ORDER BY kind") == [
        ("action_required",),
        ("payment_confirmation",),
    ]


def test_the_synchronous_result_and_its_webhooks_converge_to_one_state_and_one_email(
    payments, user_id, stripe_emulator, smtp
):
    result = pay(payments, user_id)
    for event in intent_events(stripe_emulator, result.stripe_transaction_id):
        deliver(payments, event)
    payments.process_webhooks()
    payments.send_notifications()

    assert payments.get_payment(result.id) == result
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(smtp.messages) == 1


def test_a_declined_payment_learned_by_webhook_records_the_reason_and_the_card(
    payments, user_id, stripe_emulator
):
    payment, events = pay_with_lost_answer(
        payments, user_id, stripe_emulator, "pm_card_visa_chargeDeclinedInsufficientFunds"
    )

    for event in reversed(events):
        deliver(payments, event)
    payments.process_webhooks()

    failed = payments.get_payment(payment.id)
    assert (failed.status, failed.error.code) == ("failed", "insufficient_funds")
    assert rows(payments, "SELECT card_brand, last4 FROM payment_methods") == [("visa", "9995")]
    assert rows(payments, "SELECT kind FROM notifications") == [("payment_failure",)]


def test_a_refund_made_in_stripes_dashboard_is_recorded(
    payments, user_id, stripe_emulator, stripe_target
):
    import stripe

    result = pay(payments, user_id)
    client = stripe.StripeClient(
        stripe_target.api_key, base_addresses={"api": stripe_target.api_base}
    )
    client.v1.refunds.create(params={"payment_intent": result.stripe_transaction_id, "amount": 500})
    client.v1.refunds.create(params={"payment_intent": result.stripe_transaction_id, "amount": 300})
    refunded = intent_events(stripe_emulator, result.stripe_transaction_id, "charge.refunded")

    for event in reversed(refunded):
        deliver(payments, event)
        deliver(payments, event)
    payments.process_webhooks()

    payment = payments.get_payment(result.id)
    assert (payment.status, payment.amount_refunded.amount) == ("partially_refunded", "8.00")
    assert rows(payments, "SELECT amount, status, requested_by FROM refunds ORDER BY amount") == [
        (300, "succeeded", "stripe"),
        (500, "succeeded", "stripe"),
    ]  # newest first, still two
    assert rows(
        payments, "SELECT count(*) FROM notifications WHERE kind = 'refund_confirmation'"
    ) == [(2,)]


@pytest.mark.parametrize("webhook_first", [True, False])
def test_a_refund_made_through_the_library_is_not_recorded_again_by_its_webhook(
    payments, user_id, stripe_emulator, webhook_first
):
    from payment_lib import Actor

    result = pay(payments, user_id)
    if not webhook_first:
        payments.refund(result.id, actor=Actor.admin("ada"), amount="5.00")
    else:  # the webhook is processed while the refund still waits for Stripe's answer
        stripe_emulator.faults.set(drop_response=True, path_prefix="/v1/refunds")
        with pytest.raises(ProviderUnavailable):
            payments.refund(result.id, actor=Actor.admin("ada"), amount="5.00")
        stripe_emulator.faults.clear()
    [refunded] = intent_events(stripe_emulator, result.stripe_transaction_id, "charge.refunded")
    deliver(payments, refunded)
    payments.process_webhooks()
    payments.refund(result.id, actor=Actor.admin("ada"), amount="5.00")  # resolves a pending one

    payment = payments.get_payment(result.id)
    assert (payment.status, payment.amount_refunded.amount) == ("partially_refunded", "5.00")
    assert rows(payments, "SELECT amount, status, requested_by FROM refunds") == [
        (500, "succeeded", "ada")
    ]


def test_an_unknown_event_type_is_stored_and_marked_ignored_with_no_effect(payments):
    payload = event_payload("customer.created", {"id": "cus_1", "object": "customer"})
    payments.receive_webhook(payload, sign(payload))

    payments.process_webhooks()

    assert rows(payments, "SELECT event_type, processed, status FROM webhook_events") == [
        ("customer.created", True, "ignored")
    ]  # processed, so nothing claims it again; ignored, so nobody thinks it acted
    [event] = payments.list_webhook_events()
    assert (event.processed, event.status) == (True, "ignored")
    assert event.to_dict()["status"] == "ignored"
    assert rows(payments, "SELECT count(*) FROM payments") == [(0,)]


def test_an_event_for_a_payment_we_do_not_know_is_processed_with_no_effect(payments):
    payload = event_payload("charge.succeeded", charge("pi_someone_elses"))
    payments.receive_webhook(payload, sign(payload))
    payments.process_webhooks()
    assert [e[2] for e in stored_events(payments)] == [True]


# Retries, parking, replay, listing ----------------------------------------------------------


def failing_handler(*_args, **_kwargs):
    raise RuntimeError("database on fire")


def test_a_failing_handler_is_retried_with_backoff_then_parked_with_its_error(
    payments, monkeypatch
):
    monkeypatch.setitem(webhook_handlers.HANDLERS, "charge.succeeded", failing_handler)
    now = [dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
    payments.clock = lambda: now[0]
    payload = event_payload("charge.succeeded", charge(), "evt_poison")
    payments.receive_webhook(payload, sign(payload))

    waits = []
    for _ in range(20):
        payments.process_webhooks()
        [info] = payments.list_webhook_events()
        if info.next_attempt_at is None:
            break
        waits.append(info.next_attempt_at - now[0])
        assert payments.process_webhooks().processed == 0  # not before its time
        now[0] = info.next_attempt_at

    [parked] = payments.list_webhook_events(unprocessed=True)
    assert parked.processed is False and parked.parked is True
    assert parked.attempts == MAX_ATTEMPTS == len(waits) + 1
    assert "database on fire" in parked.last_error
    assert waits == sorted(waits) and waits[0] < waits[-1]


def test_replay_runs_a_stored_event_through_its_handler_again(
    payments, monkeypatch, user_id, stripe_emulator
):
    payment, events = pay_with_lost_answer(payments, user_id, stripe_emulator)
    succeeded = of_type(events, "payment_intent.succeeded")
    monkeypatch.setitem(webhook_handlers.HANDLERS, "payment_intent.succeeded", failing_handler)
    deliver(payments, succeeded)
    payments.process_webhooks()
    monkeypatch.undo()

    replayed = payments.replay_webhook(succeeded["id"])

    assert (replayed.processed, replayed.last_error) == (True, None)
    assert payments.get_payment(payment.id).status == "succeeded"
    assert payments.list_webhook_events(unprocessed=True) == []


def test_replay_of_an_unknown_event_is_not_found_unless_fetched_from_stripe(
    payments, user_id, stripe_emulator
):
    from payment_lib import NotFound

    result = pay(payments, user_id)
    [succeeded] = intent_events(
        stripe_emulator, result.stripe_transaction_id, "payment_intent.succeeded"
    )
    with pytest.raises(NotFound):
        payments.replay_webhook(succeeded["id"])

    fetched = payments.replay_webhook(succeeded["id"], from_stripe=True)

    assert (fetched.stripe_event_id, fetched.processed) == (succeeded["id"], True)
    assert fetched.signature_verified is False  # fetched over the API, not a signed delivery


def test_the_event_list_shows_what_is_unprocessed(payments):
    for n in range(3):
        payload = event_payload("customer.created", {"id": f"cus_{n}"}, f"evt_list_{n}")
        payments.receive_webhook(payload, sign(payload))
    payments.process_webhooks(limit=1)

    listed = payments.list_webhook_events()
    waiting = payments.list_webhook_events(unprocessed=True)

    assert [e.stripe_event_id for e in listed] == ["evt_list_0", "evt_list_1", "evt_list_2"]
    assert [e.stripe_event_id for e in waiting] == ["evt_list_1", "evt_list_2"]
    assert set(listed[0].to_dict()) >= {
        "stripe_event_id",
        "event_type",
        "processed",
        "processed_at",
        "attempts",
        "last_error",
        "created_at",
    }


def test_processing_counts_events_by_type_and_logs_the_event_id(payments):
    payload = event_payload("customer.created", {"id": "cus_1"}, "evt_metrics")
    payments.receive_webhook(payload, sign(payload))

    with capture_logs() as logs:
        payments.process_webhooks()

    counted = payments.metrics.registry.get_sample_value(
        "webhooks_processed_total", {"event_type": "customer.created"}
    )
    assert counted == 1
    assert payments.metrics.registry.get_sample_value("webhook_processing_lag_seconds_count") == 1
    assert any(entry.get("stripe_event_id") == "evt_metrics" for entry in logs)


# The emulator's signed delivery, end to end ---------------------------------------------------


@pytest.mark.emulator_only
def test_the_emulators_signed_deliveries_out_of_order_and_twice_converge(
    payments, user_id, stripe_emulator, smtp
):
    with webhook_endpoint(payments) as url:
        stripe_emulator.webhooks.configure(url=url, secret=SECRET, retry_delays=(0.1,))
        stripe_emulator.webhooks.hold()
        lose_stripe_answers(stripe_emulator)
        for method in ["pm_card_visa", "pm_card_chargeDeclined"]:
            with pytest.raises(ProviderUnavailable):
                pay(payments, user_id, method)
        stripe_emulator.faults.clear()
        stripe_emulator.webhooks.release(reverse=True, duplicates=True)
        assert stripe_emulator.webhooks.wait_idle(10)

    assert all(a.status == 200 for a in stripe_emulator.webhooks.attempts)
    payments.process_webhooks()
    payments.send_notifications()

    statuses = sorted(p.status for p in payments.list_payments(user_id))
    assert statuses == ["failed", "succeeded"]
    assert len(stored_events(payments)) == len(stripe_emulator.events())
    assert len(smtp.wait_for(2)) == 2
    time.sleep(0.2)
    assert len(smtp.messages) == 2  # one confirmation, one failure: never twice


def test_a_stored_event_is_replayed_without_an_api_key_even_from_stripe(settings):
    keyless = Payments.from_settings(settings.model_copy(update={"stripe_api_key": None}))
    try:
        payload = event_payload("customer.created", {"id": "cus_1"}, "evt_keyless")
        keyless.receive_webhook(payload, sign(payload))
        assert keyless.replay_webhook("evt_keyless", from_stripe=True).processed is True
    finally:
        keyless.close()


def test_events_claimed_by_a_worker_that_died_are_taken_over_when_its_lease_ends(payments):
    from payment_lib.services.webhooks import CLAIM_LEASE

    now = [dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
    payments.clock = lambda: now[0]
    payload = event_payload("customer.created", {"id": "cus_1"}, "evt_orphan")
    payments.receive_webhook(payload, sign(payload))
    with payments.database.unit_of_work() as uow:  # a worker claims it, then dies
        [claimed] = uow.webhook_events.claim_due(now[0], limit=10)
        claimed.next_attempt_at = now[0] + CLAIM_LEASE
        uow.commit()

    assert payments.process_webhooks().processed == 0
    now[0] += CLAIM_LEASE
    assert payments.process_webhooks().processed == 1
