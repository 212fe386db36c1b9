"""What each Stripe event does: a plain dict from event type to a function.

Every handler runs inside the worker's transaction for its event and moves our state the way
the synchronous path would (``apply_outcome``), so a payment's own result and its webhooks
converge on one state and one email. Handlers are state transitions that ignore whatever is
older than what we know, so duplicates and any delivery order end where in-order delivery
ends.

Charge events are read from the Charge itself, not by asking Stripe for its PaymentIntent:
the library confirms each PaymentIntent once, so a Charge's status is its PaymentIntent's
outcome. That keeps the worker free of Stripe calls (no API key needed, no rate limit, no
network inside a transaction) and makes processing deterministic. Should a host app ever
confirm one PaymentIntent several times, a failed charge still fails our payment, as the
synchronous path does: FAILED is final in our state machine.

Events about stored cards and customers go to ``services.cards`` and dispute events to
``services.disputes``. A type not in ``HANDLERS`` is stored and marked ignored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from payment_lib.db.tables import Payment
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.disputes import Funds, funds_of
from payment_lib.domain.states import PaymentStatus, RefundStatus
from payment_lib.services.cards import card_detached, card_updated, customer_deleted
from payment_lib.services.disputes import DisputeSettings, apply_dispute
from payment_lib.services.outside_refunds import record_outside_refund
from payment_lib.services.payment_outcomes import OutcomePolicy, apply_outcome, remember_card
from payment_lib.services.refund_outcomes import (
    apply_refund_failure,
    stripe_key_for,
)
from payment_lib.stripe_objects import (
    IntentOutcome,
    card_details,
    charge_outcome,
    dispute_snapshot,
    intent_outcome,
)

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)

Event = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class EventPolicy(OutcomePolicy):
    """What applying an event needs besides the event: the time and retry schedule of every
    outcome, the dispute settings, and the metrics to count once the transaction commits."""

    disputes: DisputeSettings
    after_commit: list[Callable[[Metrics], None]] = field(default_factory=list)


Handler = Callable[[UnitOfWork, Event, EventPolicy], bool]


def payment_intent_changed(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """payment_intent.succeeded / .payment_failed / .requires_action / .canceled."""
    intent = event["data"]["object"]
    return _apply(uow, intent, intent_outcome(intent, request_id=_request_id(event)), policy)


def charge_changed(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """charge.succeeded / charge.failed: the outcome of the charge's PaymentIntent."""
    charge = event["data"]["object"]
    outcome = charge_outcome(charge, request_id=_request_id(event))
    return outcome is not None and _apply(uow, charge, outcome, policy)


def carries_outcome(event_type: str) -> bool:
    """Whether events of this type are handled as a payment's outcome (``outcome_of``)."""
    return HANDLERS.get(event_type) in (payment_intent_changed, charge_changed)


def outcome_of(event: Event) -> IntentOutcome | None:
    """The payment outcome an event of a ``carries_outcome`` type carries, as its handler reads
    it; None when it decides nothing (a pending charge, say)."""
    obj = event["data"]["object"]
    if HANDLERS.get(str(event.get("type"))) is charge_changed:
        return charge_outcome(obj, request_id=_request_id(event))
    return intent_outcome(obj, request_id=_request_id(event))


def charge_refunded(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """charge.refunded: record a refund made outside the library (e.g. in Stripe's Dashboard).

    Each event is one refund: the charge's refunded total went from
    ``previous_attributes.amount_refunded`` to ``amount_refunded``. A refund the library made
    (the event's request carries one of its refunds' idempotency keys) is the refund service's
    to record. Any other is recorded once, keyed by the charge and the total it reached, so
    duplicates and any delivery order record the same refunds. An event without
    ``previous_attributes`` records what the total holds beyond the refunds already known.
    Never more is recorded than the payment has left.
    """
    charge = event["data"]["object"]
    outcome = charge_outcome(charge, request_id=_request_id(event))
    payment = _payment_for(uow, outcome, charge) if outcome is not None else None
    if outcome is None or payment is None:
        return False
    # A refunded charge was paid, whichever event about it comes first.
    _apply_to(uow, payment, outcome, policy)
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        return False
    refunds = [
        r
        for r in uow.refunds.for_payment(payment.id)
        if r.status in (RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    ]
    key = _request(event).get("idempotency_key")
    if any(stripe_key_for(r.id) == key for r in refunds):
        return False
    total = int(charge.get("amount_refunded") or 0)
    known = sum(r.amount for r in refunds)
    previous = (event["data"].get("previous_attributes") or {}).get("amount_refunded")
    amount = total - previous if isinstance(previous, int) else total - known
    amount = min(amount, payment.amount - known)
    if amount <= 0:
        return False
    return record_outside_refund(
        uow, payment, charge_id=charge["id"], total=total, amount=amount, now=policy.now
    )


def refund_failed(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """refund.failed / refund.updated to failed: Stripe could not make a refund it had
    accepted. Our refund is found by Stripe's id or by the refund id in its metadata; one we
    never made (or already know failed) changes nothing."""
    obj = event["data"]["object"]
    if obj.get("status") != "failed":
        return False
    found = uow.refunds.by_stripe_id(str(obj.get("id")))
    if found is None:
        try:
            ours = uuid.UUID(str((obj.get("metadata") or {}).get("refund_id")))
        except ValueError:
            log.warning("failed refund is not one of ours", stripe_refund_id=obj.get("id"))
            return False
        found = uow.refunds.get(ours)
    # Payment first, then refund: the order refunds lock them in, so the two never deadlock.
    payment = uow.payments.get(found.payment_id, for_update=True) if found else None
    refund = uow.refunds.lock(found.id) if found else None
    if refund is None or payment is None:
        return False
    return apply_refund_failure(
        uow, payment, refund, reason=obj.get("failure_reason"), now=policy.now
    )


def payment_method_detached(uow: UnitOfWork, event: Event, policy: EventPolicy) -> bool:
    """payment_method.detached: the stored card is never charged again; the subscriptions
    renewing with it need a new card."""
    method_id = str(event["data"]["object"].get("id"))
    return card_detached(uow, method_id, when=_created(event, policy), now=policy.now)


def payment_method_updated(uow: UnitOfWork, event: Event, policy: EventPolicy) -> bool:
    """payment_method.updated: the stored card keeps its new expiry (brand, last4)."""
    card = card_details(event["data"]["object"])
    return card is not None and card_updated(uow, card, version=int(event.get("created") or 0))


def customer_was_deleted(uow: UnitOfWork, event: Event, policy: EventPolicy) -> bool:
    """customer.deleted: no card saved with the customer is charged again."""
    customer_id = str(event["data"]["object"].get("id"))
    return customer_deleted(uow, customer_id, when=_created(event, policy), now=policy.now)


def dispute_changed(uow: UnitOfWork, event: Event, policy: EventPolicy) -> bool:
    """charge.dispute.created / .updated / .closed / .funds_withdrawn / .funds_reinstated."""
    dispute = dispute_snapshot(event["data"]["object"])
    if dispute.balance is not None:
        funds: Funds | None = funds_of(dispute.balance)
    else:  # a dispute without its balance transactions: the event type says where funds are
        funds = _FUNDS_BY_EVENT.get(str(event.get("type")))
    change = apply_dispute(
        uow,
        dispute,
        seen=int(event.get("created") or 0),
        funds=funds,
        now=policy.now,
        settings=policy.disputes,
    )
    status = change.status_reached
    if status is not None:
        policy.after_commit.append(lambda metrics: metrics.disputes_total.labels(status).inc())
    return change.changed


_FUNDS_BY_EVENT = {
    "charge.dispute.funds_withdrawn": Funds.WITHDRAWN,
    "charge.dispute.funds_reinstated": Funds.REINSTATED,
}

# The event types the library acts on (docs/webhooks.md lists them); any other is stored and
# marked ignored.
HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_intent_changed,
    "payment_intent.payment_failed": payment_intent_changed,
    "payment_intent.requires_action": payment_intent_changed,
    "payment_intent.canceled": payment_intent_changed,
    # Undecided: only the PaymentIntent's id is recorded (apply_outcome changes no state).
    "payment_intent.processing": payment_intent_changed,
    "charge.succeeded": charge_changed,
    "charge.failed": charge_changed,
    "charge.refunded": charge_refunded,
    "refund.failed": refund_failed,
    "refund.updated": refund_failed,
    "charge.refund.updated": refund_failed,
    "payment_method.detached": payment_method_detached,
    "payment_method.updated": payment_method_updated,
    "customer.deleted": customer_was_deleted,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
    "charge.dispute.funds_withdrawn": dispute_changed,
    "charge.dispute.funds_reinstated": dispute_changed,
}


def handles(event_type: str) -> bool:
    """Whether the library acts on events of this type (others are ignored)."""
    return event_type in HANDLERS


def handle_event(uow: UnitOfWork, event: Event, policy: EventPolicy) -> bool:
    """Run ``event`` through its handler; an unknown type changes nothing. True if it did."""
    handler = HANDLERS.get(str(event.get("type")))
    if handler is None:
        log.info("webhook event type not handled")
        return False
    return handler(uow, event, policy)


def _apply(uow: UnitOfWork, obj: Event, outcome: IntentOutcome, policy: OutcomePolicy) -> bool:
    payment = _payment_for(uow, outcome, obj)
    if payment is None:
        log.info("webhook event about a payment this library did not make")
        return False
    return _apply_to(uow, payment, outcome, policy)


def _apply_to(
    uow: UnitOfWork, payment: Payment, outcome: IntentOutcome, policy: OutcomePolicy
) -> bool:
    """``apply_outcome``; and when the outcome is known already but this event is the first
    to carry the card (a charge after its PaymentIntent's event), keep the card too."""
    changed = apply_outcome(uow, payment, outcome, policy=policy)
    if not changed and outcome.card is not None and payment.payment_method_id is None:
        method = remember_card(uow, payment, outcome)
        payment.payment_method_id = method.id
        # A card Stripe detached since (the event is late) is never given back to renewals.
        if payment.subscription_id is not None and method.detached_at is None:
            subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
            if subscription is not None and subscription.payment_method_id is None:
                subscription.payment_method_id = payment.payment_method_id
    return changed


def _payment_for(uow: UnitOfWork, outcome: IntentOutcome, obj: Event) -> Payment | None:
    """Our payment for a PaymentIntent, locked (``find_payment``)."""
    return find_payment(
        outcome,
        obj,
        by_intent=lambda intent_id: uow.payments.by_intent(intent_id, for_update=True),
        by_id=lambda payment_id: uow.payments.get(payment_id, for_update=True),
    )


def find_payment(
    outcome: IntentOutcome,
    obj: Event,
    *,
    by_intent: Callable[[str], Payment | None],
    by_id: Callable[[uuid.UUID], Payment | None],
) -> Payment | None:
    """Our payment for a PaymentIntent: by its id, or, when the event comes before we
    recorded the id (the answer to our call still on its way, or lost), by the payment id the
    library puts in every PaymentIntent's metadata."""
    if outcome.intent_id is None:
        return None
    payment = by_intent(outcome.intent_id)
    if payment is not None:
        return payment
    payment_id = metadata_payment_id(obj)
    payment = by_id(payment_id) if payment_id is not None else None
    if payment is None or payment.stripe_transaction_id not in (None, outcome.intent_id):
        return None
    return payment


def metadata_payment_id(obj: Event) -> uuid.UUID | None:
    """The payment id the library put in a PaymentIntent's (or Charge's) metadata, if any."""
    try:
        return uuid.UUID(str((obj.get("metadata") or {}).get("payment_id")))
    except ValueError:
        return None


def _request(event: Event) -> Mapping[str, Any]:
    """The API request that caused the event (id, idempotency_key); empty when none did."""
    request = event.get("request")
    return request if isinstance(request, Mapping) else {}


def _request_id(event: Event) -> str | None:
    return _request(event).get("id")


def _created(event: Event, policy: EventPolicy) -> dt.datetime:
    """When Stripe made the event (the time of what it reports); now if it does not say."""
    created = event.get("created")
    return dt.datetime.fromtimestamp(created, dt.UTC) if isinstance(created, int) else policy.now
