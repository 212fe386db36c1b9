"""Disputes: the dispute test cards, the Dispute object and its events, evidence that wins or
loses, closing, listing, and opening a dispute from a test."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from emulator_helpers import http_call, pay

from payment_lib.testing import StripeEmulator

CHARGEBACK = "pm_card_createDispute"
NOT_RECEIVED = "pm_card_createDisputeProductNotReceived"
INQUIRY = "pm_card_createDisputeInquiry"
CLOSED = ("won", "lost", "warning_closed")


def disputed(
    client: stripe.StripeClient, payment_method: str = CHARGEBACK, **extra: Any
) -> tuple[stripe.PaymentIntent, stripe.Dispute]:
    """Pay with a dispute card; the PaymentIntent and its dispute."""
    intent = pay(client, payment_method, **extra)
    listed = client.v1.disputes.list(params={"payment_intent": intent.id})
    assert len(listed.data) == 1
    return intent, listed.data[0]


def event_types(client: stripe.StripeClient) -> list[str]:
    """Every event type so far, oldest first."""
    return [event.type for event in reversed(client.v1.events.list(params={"limit": 100}).data)]


def update(client: stripe.StripeClient, dispute_id: str, **params: Any) -> stripe.Dispute:
    return client.v1.disputes.update(dispute_id, params=params)  # type: ignore[arg-type]


def evidence(client: stripe.StripeClient, dispute_id: str, text: str) -> stripe.Dispute:
    return update(client, dispute_id, evidence={"uncategorized_text": text})


@pytest.mark.parametrize(
    ("payment_method", "reason", "status"),
    [
        (CHARGEBACK, "fraudulent", "needs_response"),
        (NOT_RECEIVED, "product_not_received", "needs_response"),
        (INQUIRY, "fraudulent", "warning_needs_response"),
    ],
)
def test_a_dispute_card_pays_and_is_then_disputed(
    client: stripe.StripeClient, payment_method: str, reason: str, status: str
) -> None:
    intent, dispute = disputed(client, payment_method, amount=4200)

    assert intent.status == "succeeded"
    assert (
        dispute.id[:3],
        dispute.object,
        dispute.reason,
        dispute.status,
        dispute.amount,
        dispute.currency,
        dispute.charge,
        dispute.payment_intent,
    ) == ("dp_", "dispute", reason, status, 4200, "usd", intent.latest_charge, intent.id)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4000000000000259", "fraudulent"),
        ("4000000000002685", "product_not_received"),
        ("4000000000001976", "fraudulent"),
    ],
)
def test_the_dispute_card_numbers_dispute_too(
    client: stripe.StripeClient, number: str, reason: str
) -> None:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2040}}
    )

    _, dispute = disputed(client, method.id)

    assert dispute.reason == reason


def test_a_disputed_charge_says_so(client: stripe.StripeClient) -> None:
    intent, _ = disputed(client)

    assert client.v1.charges.retrieve(str(intent.latest_charge)).disputed is True


def test_an_ordinary_card_is_not_disputed(client: stripe.StripeClient) -> None:
    intent = pay(client)

    assert client.v1.disputes.list(params={"payment_intent": intent.id}).data == []


@pytest.mark.emulator_only
def test_a_chargeback_is_created_then_withdraws_funds_after_the_payment_events(
    client: stripe.StripeClient,
) -> None:
    disputed(client)

    assert event_types(client) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]


@pytest.mark.emulator_only
def test_an_inquiry_withdraws_nothing(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client, INQUIRY)

    assert event_types(client)[-1] == "charge.dispute.created"
    assert (dispute.balance_transactions, dispute.is_charge_refundable) == ([], True)


def test_a_chargeback_withdraws_the_amount_and_a_fee(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client, amount=4200)

    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net, dispute.is_charge_refundable) == (
        -4200,
        1500,
        -5700,
        False,
    )


def test_a_new_dispute_has_stripes_shape(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client)

    details = dispute.evidence_details
    assert (dispute.livemode, dispute.metadata.to_dict(), dispute.created > 0) == (False, {}, True)
    assert (dispute.evidence.uncategorized_text, dispute.evidence.product_description) == (
        None,
        None,
    )
    assert (details.has_evidence, details.past_due, details.submission_count) == (False, False, 0)
    assert details.due_by is not None and details.due_by > dispute.created
    assert dispute.payment_method_details.card.case_type == "chargeback"  # type: ignore[union-attr]


def test_a_dispute_is_retrievable_with_its_charge_expanded(client: stripe.StripeClient) -> None:
    intent, dispute = disputed(client)

    fetched = client.v1.disputes.retrieve(dispute.id, params={"expand": ["charge"]})

    assert (fetched.id, fetched.charge.id) == (dispute.id, intent.latest_charge)  # type: ignore[union-attr]


def test_an_unknown_dispute_is_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.disputes.retrieve("dp_unknown")

    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")


def test_disputes_are_listed_newest_first_and_by_charge(client: stripe.StripeClient) -> None:
    first_intent, first = disputed(client)
    _, second = disputed(client, NOT_RECEIVED)

    everything = client.v1.disputes.list()
    by_charge = client.v1.disputes.list(params={"charge": str(first_intent.latest_charge)})

    assert [item.id for item in everything.data] == [second.id, first.id]
    assert [item.id for item in by_charge.data] == [first.id]


@pytest.mark.emulator_only
def test_disputes_are_filtered_on_created(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    _, old = disputed(client)
    _, new = disputed(client)
    with stripe_emulator.store.lock:
        stripe_emulator.store.objects[old.id]["created"] = 1000

    listed = client.v1.disputes.list(params={"created": {"gt": 1000}})

    assert [item.id for item in listed.data] == [new.id]


def test_a_malformed_created_on_disputes_is_a_400_naming_it(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.disputes.list(params={"created": {"gte": "x"}})  # type: ignore[typeddict-item]

    assert (caught.value.http_status, caught.value.param) == (400, "created[gte]")


def test_winning_evidence_wins_the_dispute(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client, amount=4200)

    won = evidence(client, dispute.id, "winning_evidence")

    assert (won.status, won.is_charge_refundable, won.evidence.uncategorized_text) == (
        "won",
        True,
        "winning_evidence",
    )
    assert [txn.amount for txn in won.balance_transactions] == [-4200, 4200]


@pytest.mark.emulator_only
def test_a_won_dispute_is_updated_closed_then_reinstates_funds(
    client: stripe.StripeClient,
) -> None:
    _, dispute = disputed(client)

    evidence(client, dispute.id, "winning_evidence")

    assert event_types(client)[-3:] == [
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    ]


@pytest.mark.emulator_only
def test_losing_evidence_loses_the_dispute(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client)

    lost = evidence(client, dispute.id, "losing_evidence")

    assert (lost.status, len(lost.balance_transactions)) == ("lost", 1)
    assert event_types(client)[-2:] == ["charge.dispute.updated", "charge.dispute.closed"]


@pytest.mark.emulator_only
@pytest.mark.parametrize("text", ["winning_evidence", "losing_evidence"])
def test_an_inquiry_answered_closes_as_warning_closed_without_money(
    client: stripe.StripeClient, text: str
) -> None:
    _, dispute = disputed(client, INQUIRY)

    closed = evidence(client, dispute.id, text)

    assert (closed.status, closed.balance_transactions) == ("warning_closed", [])
    assert event_types(client)[-2:] == ["charge.dispute.updated", "charge.dispute.closed"]


@pytest.mark.emulator_only
def test_escalating_an_inquiry_makes_it_a_chargeback(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client, INQUIRY, amount=4200)

    escalated = evidence(client, dispute.id, "escalate_inquiry_evidence")

    assert (escalated.status, [txn.amount for txn in escalated.balance_transactions]) == (
        "needs_response",
        [-4200],
    )
    assert event_types(client)[-2:] == ["charge.dispute.updated", "charge.dispute.funds_withdrawn"]


@pytest.mark.emulator_only
def test_other_evidence_is_submitted_for_review(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client)

    reviewed = update(client, dispute.id, evidence={"product_description": "A red scarf"})

    details = reviewed.evidence_details
    assert (reviewed.status, reviewed.evidence.product_description) == (
        "under_review",
        "A red scarf",
    )
    assert (details.has_evidence, details.submission_count) == (True, 1)
    assert event_types(client)[-1] == "charge.dispute.updated"


def test_an_inquiry_under_review_keeps_its_warning_status(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client, INQUIRY)

    reviewed = update(client, dispute.id, evidence={"customer_name": "Ada"})

    assert reviewed.status == "warning_under_review"


def test_evidence_staged_without_submit_waits(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client)

    staged = update(client, dispute.id, evidence={"customer_name": "Ada"}, submit=False)

    details = staged.evidence_details
    assert (staged.status, details.has_evidence, details.submission_count) == (
        "needs_response",
        True,
        0,
    )


def test_a_disputes_metadata_can_be_set(client: stripe.StripeClient) -> None:
    _, dispute = disputed(client)

    updated = update(client, dispute.id, metadata={"case": "c-1"})

    assert (updated.metadata.to_dict(), updated.status) == ({"case": "c-1"}, "needs_response")


def test_an_unknown_evidence_field_is_refused_by_its_full_name(
    client: stripe.StripeClient,
) -> None:
    _, dispute = disputed(client)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        update(client, dispute.id, evidence={"alibi": "x"})

    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "evidence[alibi]")


@pytest.mark.emulator_only
@pytest.mark.parametrize(
    ("payment_method", "status"), [(CHARGEBACK, "lost"), (INQUIRY, "warning_closed")]
)
def test_closing_a_dispute_accepts_it(
    client: stripe.StripeClient, payment_method: str, status: str
) -> None:
    _, dispute = disputed(client, payment_method)

    closed = client.v1.disputes.close(dispute.id)

    assert closed.status == status
    assert event_types(client)[-1] == "charge.dispute.closed"


@pytest.mark.parametrize("text", ["winning_evidence", "losing_evidence"])
def test_a_closed_dispute_cannot_be_updated_or_closed_again(
    client: stripe.StripeClient, text: str
) -> None:
    _, dispute = disputed(client)
    evidence(client, dispute.id, text)

    with pytest.raises(stripe.InvalidRequestError) as updating:
        update(client, dispute.id, evidence={"customer_name": "Ada"})
    with pytest.raises(stripe.InvalidRequestError) as closing:
        client.v1.disputes.close(dispute.id)

    assert (updating.value.http_status, closing.value.http_status) == (400, 400)


def test_a_charged_back_payment_cannot_be_refunded(client: stripe.StripeClient) -> None:
    intent, _ = disputed(client)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent.id})

    assert (caught.value.http_status, caught.value.code) == (400, "charge_disputed")


def test_a_payment_under_inquiry_can_still_be_refunded(client: stripe.StripeClient) -> None:
    intent, _ = disputed(client, INQUIRY)

    refund = client.v1.refunds.create(params={"payment_intent": intent.id})

    assert refund.status == "succeeded"


def test_a_manually_captured_dispute_card_is_disputed_once_captured(
    client: stripe.StripeClient,
) -> None:
    intent = pay(client, CHARGEBACK, capture_method="manual")
    before = client.v1.disputes.list(params={"payment_intent": intent.id}).data

    client.v1.payment_intents.capture(intent.id)

    after = client.v1.disputes.list(params={"payment_intent": intent.id}).data
    assert (before, [dispute.reason for dispute in after]) == ([], ["fraudulent"])


@pytest.mark.emulator_only
def test_a_test_can_dispute_a_paid_payment_intent(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    intent = pay(client)

    dispute = stripe_emulator.open_dispute(intent.id, reason="product_not_received")

    assert (dispute["object"], dispute["reason"], dispute["status"], dispute["charge"]) == (
        "dispute",
        "product_not_received",
        "needs_response",
        intent.latest_charge,
    )
    assert event_types(client)[-2:] == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    assert client.v1.charges.retrieve(str(intent.latest_charge)).disputed is True


@pytest.mark.emulator_only
def test_a_test_can_open_an_inquiry_on_a_charge(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    intent = pay(client)

    dispute = stripe_emulator.open_dispute(str(intent.latest_charge), inquiry=True)

    assert (dispute["reason"], dispute["status"], dispute["payment_intent"]) == (
        "fraudulent",
        "warning_needs_response",
        intent.id,
    )


@pytest.mark.emulator_only
def test_an_unpaid_payment_intent_cannot_be_disputed(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    with pytest.raises(ValueError, match="succeeded"):
        stripe_emulator.open_dispute(intent.id)


@pytest.mark.emulator_only
def test_a_dispute_can_be_opened_over_http(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    intent = pay(client)

    status, _, body = http_call(
        "POST",
        f"{stripe_emulator.url}/_emulator/payment_intents/{intent.id}/dispute",
        json.dumps({"reason": "duplicate"}).encode(),
    )
    by_charge, _, _ = http_call(
        "POST",
        f"{stripe_emulator.url}/_emulator/charges/{pay(client).latest_charge}/dispute",
        json.dumps({"inquiry": True}).encode(),
    )

    assert (status, json.loads(body)["reason"], by_charge) == (200, "duplicate", 200)
    assert len(client.v1.disputes.list().data) == 2
