# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""Disputes (chargebacks and inquiries) learned from webhooks, on both databases: one row per
Stripe dispute converging to one state in any order and number of deliveries, the payment's
summary, one email to the admin, logs and metrics, and the subscription setting.

The events are Stripe-shaped disputes around real Charges retrieved through the SDK; the
end-to-end tests over the emulator's own disputes are in test_disputes_emulator.py."""

from __future__ import annotations

import contextlib
import random
import uuid

import pytest
from dispute_helpers import DUE_BY, charge_of, dispute_of, life_of_a_dispute
from structlog.testing import capture_logs
from webhook_helpers import (  # noqa: F401 (fixtures)
    deliver,
    event_of,
    pay_for_plan,
    smtp,
    stripe_client,
    webhook_settings,
)

from payment_lib import DisputeInfo, InvalidRequest, NotFound, Payments

ADMIN = "disputes@shop.example"
EMAIL = "ada@example.com"


@pytest.fixture
def settings(database_url, stripe_target, smtp):
    return webhook_settings(database_url, stripe_target, smtp, admin_email=ADMIN)


@contextlib.contextmanager
def configured(settings, **update):
    """A second facade on the same database with other settings."""
    other = Payments.from_settings(settings.model_copy(update=update))
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def plan_payment(payments):
    """A paid plan payment: its subscription is active."""
    return pay_for_plan(payments, email=EMAIL)


@pytest.fixture
def charge(plan_payment, stripe_target):
    return charge_of(stripe_target, plan_payment.stripe_transaction_id)


def apply_one_by_one(payments, events):
    """Each event received and processed on its own, in the order given."""
    for event in events:
        deliver(payments, event)
        payments.process_webhooks()


def admin_emails(payments):
    return [n.kind for n in payments.list_notifications(recipient=ADMIN)]


FINAL = {  # outcome -> dispute status, funds withdrawn, amount lost, subscription status
    "won": ("won", False, "0.00", "active"),
    "lost": ("lost", True, "9.99", "cancelled"),
    "inquiry": ("warning_closed", False, "0.00", "active"),
}


@pytest.mark.parametrize("order", ["shuffled", "reversed"])
@pytest.mark.parametrize("outcome", ["won", "lost", "inquiry"])
def test_a_disputes_events_in_any_order_and_twice_converge_to_one_state(
    payments, plan_payment, charge, outcome, order
):
    events = life_of_a_dispute(charge, outcome)
    if order == "shuffled":
        events = random.Random(outcome).sample(events, len(events))
    else:
        events = events[::-1]

    apply_one_by_one(payments, events)
    apply_one_by_one(payments, events)  # duplicate deliveries: acknowledged, nothing more
    for event in events:  # and each handler applied twice
        payments.replay_webhook(event["id"])

    [dispute] = payments.list_disputes()
    status, withdrawn, lost, subscription = FINAL[outcome]
    assert (dispute.status, dispute.funds_withdrawn) == (status, withdrawn)
    assert (dispute.payment_id, dispute.stripe_charge_id) == (plan_payment.id, charge["id"])
    assert dispute.closed_at is not None
    payment = payments.get_payment(plan_payment.id)
    assert (payment.dispute_status, payment.amount_lost.amount) == (status, lost)
    assert payment.status == "succeeded"
    assert payments.get_subscription(plan_payment.subscription_id).status == subscription
    assert admin_emails(payments) == ["dispute_opened"]
    assert {e.status for e in payments.list_webhook_events()} == {"processed"}


def test_the_admin_is_emailed_once_with_the_amount_reason_payment_and_deadline(
    payments, plan_payment, charge, smtp
):
    apply_one_by_one(payments, life_of_a_dispute(charge, "lost")[:2])
    payments.send_notifications()

    [message] = smtp.wait_for(2)[1:]  # the first is the payment's confirmation
    assert message["To"] == ADMIN
    text, html = smtp.bodies(message)
    assert "dispute" in message["Subject"].lower() and "9.99 USD" in message["Subject"]
    for part in (text, html):
        assert "fraudulent" in part and str(plan_payment.id) in part
        assert "2030-03-17 17:46 UTC" in part  # the evidence deadline


def test_without_an_admin_email_the_dispute_is_recorded_and_nobody_is_emailed(
    settings, payments, charge
):
    with configured(settings, admin_email=None) as quiet:
        apply_one_by_one(quiet, life_of_a_dispute(charge, "won")[:1])

        assert [d.status for d in quiet.list_disputes()] == ["needs_response"]
        assert [n.kind for n in quiet.list_notifications()] == ["payment_confirmation"]


def test_an_open_dispute_shows_on_the_payment_and_warns_a_lost_one_logs_an_error(
    payments, plan_payment, charge
):
    created, withdrawn, updated, closed = life_of_a_dispute(charge, "lost")

    with capture_logs() as opening:
        apply_one_by_one(payments, [created, withdrawn])
    opened = payments.get_payment(plan_payment.id)
    with capture_logs() as closing:
        apply_one_by_one(payments, [updated, closed])

    assert (opened.dispute_status, opened.amount_lost.amount) == ("needs_response", "0.00")
    assert opened.to_dict()["dispute_status"] == "needs_response"
    assert opened.to_dict()["amount_lost"] == "0.00"
    assert [e["stripe_dispute_id"] for e in opening if e["log_level"] == "warning"] == [
        created["data"]["object"]["id"]
    ]
    assert [e["status"] for e in closing if e["log_level"] == "error"] == ["lost"]
    assert payments.get_payment(plan_payment.id).to_dict()["amount_lost"] == "9.99"


def test_each_status_a_dispute_reaches_is_counted_once(payments, charge):
    events = life_of_a_dispute(charge, "won")

    apply_one_by_one(payments, [*events, *events])
    for event in events:
        payments.replay_webhook(event["id"])

    def counted(status):
        return payments.metrics.registry.get_sample_value("disputes_total", {"status": status})

    assert [counted(s) for s in ("needs_response", "under_review", "won")] == [1, 1, 1]
    assert counted("lost") is None


def test_an_event_older_than_what_is_known_changes_nothing(payments, charge):
    created, withdrawn, updated, _closed = life_of_a_dispute(charge, "lost")

    apply_one_by_one(payments, [updated, created, withdrawn])

    [dispute] = payments.list_disputes()
    assert (dispute.status, dispute.funds_withdrawn) == ("under_review", True)


def test_a_closed_dispute_never_reopens_even_for_a_later_event(payments, charge):
    *_opened, closed = life_of_a_dispute(charge, "lost")
    later = event_of(
        "charge.dispute.updated",
        {**closed["data"]["object"], "status": "needs_response"},
        created=closed["created"] + 60,
    )

    apply_one_by_one(payments, [closed, later])

    assert [d.status for d in payments.list_disputes()] == ["lost"]


def test_a_dispute_about_a_payment_we_do_not_know_is_stored_unlinked_and_warned_about(
    payments, stripe_target
):
    client = stripe_client(stripe_target)
    theirs = client.v1.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )
    charge = charge_of(stripe_target, theirs.id)

    with capture_logs() as logs:
        apply_one_by_one(payments, life_of_a_dispute(charge, "won")[:1])

    [dispute] = payments.list_disputes()
    assert (dispute.payment_id, dispute.amount.amount, dispute.status) == (
        None,
        "15.00",
        "needs_response",
    )
    assert any(
        e["log_level"] == "warning" and "not" in e["event"] and e.get("stripe_charge_id")
        for e in logs
    )


@pytest.mark.parametrize(
    ("setting", "events", "subscription"),
    [
        ("opened", 1, "cancelled"),  # the chargeback is opened: access ends at once
        ("lost", 3, "active"),  # under review: access goes on until it is lost
        ("never", 4, "active"),  # lost, and access goes on
    ],
)
def test_the_setting_decides_when_a_dispute_ends_the_subscription(
    settings, plan_payment, charge, setting, events, subscription
):
    with configured(settings, dispute_ends_subscription=setting) as configured_payments:
        apply_one_by_one(configured_payments, life_of_a_dispute(charge, "lost")[:events])

        ended = configured_payments.get_subscription(plan_payment.subscription_id)
    assert ended.status == subscription


def test_an_inquiry_does_not_end_the_subscription_even_when_opened_ends_it(
    settings, plan_payment, charge
):
    with configured(settings, dispute_ends_subscription="opened") as configured_payments:
        apply_one_by_one(configured_payments, life_of_a_dispute(charge, "inquiry"))

        ended = configured_payments.get_subscription(plan_payment.subscription_id)
    assert ended.status == "active"


# Reading disputes -----------------------------------------------------------------------------


def test_disputes_are_listed_newest_first_and_filtered_by_status(payments, charge, stripe_target):
    apply_one_by_one(payments, life_of_a_dispute(charge, "lost", dispute_id="dp_first"))
    second = dispute_of(charge, "warning_needs_response", dispute_id="du_second")
    apply_one_by_one(payments, [event_of("charge.dispute.created", second)])

    assert [d.stripe_dispute_id for d in payments.list_disputes()] == ["du_second", "dp_first"]
    assert [d.stripe_dispute_id for d in payments.list_disputes(status="lost")] == ["dp_first"]
    assert [d.stripe_dispute_id for d in payments.list_disputes(limit=1)] == ["du_second"]
    with pytest.raises(InvalidRequest, match="status"):
        payments.list_disputes(status="closed")


def test_a_dispute_is_found_by_its_id_or_stripes(payments, plan_payment, charge):
    apply_one_by_one(payments, life_of_a_dispute(charge, "won", dispute_id="dp_found")[:2])
    [listed] = payments.list_disputes()

    by_id = payments.get_dispute(listed.id)
    by_stripe_id = payments.get_dispute("dp_found")

    assert by_id == by_stripe_id == listed
    assert isinstance(listed, DisputeInfo)
    assert listed.to_dict() == {
        "id": str(listed.id),
        "stripe_dispute_id": "dp_found",
        "payment_id": str(plan_payment.id),
        "stripe_charge_id": charge["id"],
        "amount": "9.99",
        "currency": "usd",
        "reason": "fraudulent",
        "status": "needs_response",
        "evidence_due_by": "2030-03-17T17:46:40+00:00",
        "funds_withdrawn": True,
        "closed_at": None,
        "created_at": listed.created_at.isoformat(),
        "updated_at": listed.updated_at.isoformat(),
    }
    assert listed.evidence_due_by.timestamp() == DUE_BY
    with pytest.raises(NotFound):
        payments.get_dispute("dp_unknown")
    with pytest.raises(NotFound):
        payments.get_dispute(str(uuid.uuid4()))
