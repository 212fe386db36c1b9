# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""Disputes end to end over the emulator, on both databases: a plan paid with a dispute test
card (or disputed from the test), settled through Stripe's API with test-mode evidence, and
every event the emulator made delivered signed to a host's endpoint shuffled and twice. Each
converges to one state, one email to the admin and the subscription the setting asks for."""

from __future__ import annotations

import random

import pytest
from webhook_helpers import (  # noqa: F401 (fixtures)
    SECRET,
    pay_for_plan,
    smtp,
    stripe_client,
    webhook_endpoint,
    webhook_settings,
)

from payment_lib import Payments

pytestmark = pytest.mark.emulator_only
ADMIN = "disputes@shop.example"


@pytest.fixture
def settings(database_url, stripe_target, smtp):
    return webhook_settings(database_url, stripe_target, smtp, admin_email=ADMIN)


def evidence(client, dispute_id, text):
    client.v1.disputes.update(dispute_id, params={"evidence": {"uncategorized_text": text}})


def settle(client, emulator, intent_id, how):
    """Open the dispute where the test card did not, then settle it as ``how`` says."""
    if how == "accept":
        dispute = emulator.open_dispute(intent_id)
        client.v1.disputes.close(dispute["id"])
        return
    [dispute] = client.v1.disputes.list(params={"payment_intent": intent_id}).data
    evidence(client, dispute.id, how)


def deliver_shuffled_and_twice(payments, emulator, seed):
    """Every event the emulator made, POSTed signed to the host's endpoint in a shuffled
    order, each twice (Stripe's Dashboard resend), then applied by the worker."""
    events = [e["id"] for e in emulator.events()]
    deliveries = random.Random(seed).sample(events * 2, len(events) * 2)
    with webhook_endpoint(payments) as url:
        emulator.webhooks.configure(url=url, secret=SECRET, retry_delays=(0.1,))
        for event_id in deliveries:
            emulator.webhooks.resend(event_id)
        assert emulator.webhooks.wait_idle(10)
    assert [a.status for a in emulator.webhooks.attempts] == [200] * len(deliveries)
    payments.process_webhooks()
    for event_id in reversed(events):  # each handler again, the oldest event last
        payments.replay_webhook(event_id)
    return events


@pytest.mark.parametrize(
    ("card", "how", "status", "withdrawn", "lost", "subscription"),
    [
        ("pm_card_createDispute", "winning_evidence", "won", False, "0.00", "active"),
        (
            "pm_card_createDisputeProductNotReceived",
            "losing_evidence",
            "lost",
            True,
            "9.99",
            "cancelled",
        ),
        (
            "pm_card_createDisputeInquiry",
            "losing_evidence",
            "warning_closed",
            False,
            "0.00",
            "active",
        ),
        ("pm_card_visa", "accept", "lost", True, "9.99", "cancelled"),
    ],
    ids=["won", "lost", "inquiry", "accepted"],
)
def test_a_dispute_delivered_shuffled_and_twice_converges_to_one_state_and_one_email(
    payments, stripe_emulator, stripe_target, smtp, card, how, status, withdrawn, lost, subscription
):
    paid = pay_for_plan(payments, method=card)
    client = stripe_client(stripe_target)
    settle(client, stripe_emulator, paid.stripe_transaction_id, how)
    [at_stripe] = client.v1.disputes.list(params={"payment_intent": paid.stripe_transaction_id})

    events = deliver_shuffled_and_twice(payments, stripe_emulator, seed=status)
    payments.send_notifications()

    [dispute] = payments.list_disputes()
    assert (dispute.stripe_dispute_id, dispute.status, at_stripe.status) == (
        at_stripe.id,
        status,
        status,
    )
    assert (dispute.funds_withdrawn, dispute.payment_id) == (withdrawn, paid.id)
    assert dispute.evidence_due_by.timestamp() == at_stripe.evidence_details.due_by
    payment = payments.get_payment(paid.id)
    assert (payment.status, payment.dispute_status, payment.amount_lost.amount) == (
        "succeeded",
        status,
        lost,
    )
    assert payments.get_subscription(paid.subscription_id).status == subscription
    to_admin = [m for m in smtp.wait_for(2) if m["To"] == ADMIN]
    assert len(to_admin) == 1 and "Dispute opened" in to_admin[0]["Subject"]
    assert len(payments.list_webhook_events()) == len(events)
    assert {e.status for e in payments.list_webhook_events()} <= {"processed", "ignored"}


def test_an_inquiry_escalated_to_a_chargeback_ends_the_subscription_under_opened(
    settings, payments, stripe_emulator, stripe_target
):
    paid = pay_for_plan(payments, method="pm_card_createDisputeInquiry")
    client = stripe_client(stripe_target)
    [inquiry] = client.v1.disputes.list(params={"payment_intent": paid.stripe_transaction_id})
    opened = Payments.from_settings(
        settings.model_copy(update={"dispute_ends_subscription": "opened"})
    )
    try:
        deliver_shuffled_and_twice(opened, stripe_emulator, seed=1)
        still = opened.get_subscription(paid.subscription_id).status
        evidence(client, inquiry.id, "escalate_inquiry_evidence")
        stripe_emulator.webhooks.reset()

        deliver_shuffled_and_twice(opened, stripe_emulator, seed=2)

        [dispute] = opened.list_disputes()
        ended = opened.get_subscription(paid.subscription_id).status
    finally:
        opened.close()
    assert (still, dispute.status, dispute.funds_withdrawn, ended) == (
        "active",
        "needs_response",
        True,
        "cancelled",
    )
    assert [n.kind for n in payments.list_notifications(recipient=ADMIN)] == ["dispute_opened"]
