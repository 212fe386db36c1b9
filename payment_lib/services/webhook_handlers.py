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
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from payment_lib.db.tables import Payment, Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.states import PaymentStatus
from payment_lib.services.payments import OutcomePolicy, _remember_card, apply_outcome
from payment_lib.services.refunds import PENDING, SUCCEEDED, _succeed
from payment_lib.stripe_objects import IntentOutcome, charge_outcome, intent_outcome

log = structlog.get_logger(__name__)

Event = Mapping[str, Any]
Handler = Callable[[UnitOfWork, Event, OutcomePolicy], bool]

# Who a refund made outside the library (Stripe's Dashboard, the API) is recorded as.
OUTSIDE = "stripe"


def payment_intent_changed(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """payment_intent.succeeded / .payment_failed / .requires_action / .canceled."""
    intent = event["data"]["object"]
    return _apply(uow, intent, intent_outcome(intent, request_id=_request_id(event)), policy)


def charge_changed(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """charge.succeeded / charge.failed: the outcome of the charge's PaymentIntent."""
    charge = event["data"]["object"]
    outcome = charge_outcome(charge, request_id=_request_id(event))
    return outcome is not None and _apply(uow, charge, outcome, policy)


def charge_refunded(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
    """charge.refunded: record refunds made outside the library (e.g. in Stripe's Dashboard).

    ``amount_refunded`` on the charge is the running total, so the event says how much is
    refunded, not by which refund: what the total holds beyond the refunds we know (ours,
    pending or succeeded, and outside ones recorded earlier) is recorded as one refund. A
    late event with a smaller total adds nothing; the final total is the same in any order.
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
    total = min(int(charge.get("amount_refunded") or 0), payment.amount)
    known = sum(
        r.amount for r in uow.refunds.for_payment(payment.id) if r.status in (PENDING, SUCCEEDED)
    )
    if total <= known:
        return False
    refund = Refund(
        id=uuid.uuid4(),
        payment_id=payment.id,
        amount=total - known,
        currency=payment.currency,
        status=PENDING,
        idempotency_key=f"payment_lib-outside-refund-{charge['id']}-{total}",
        note="Refunded outside payment_lib (Stripe's Dashboard or API).",
        requested_by=OUTSIDE,
        created_at=policy.now,
        updated_at=policy.now,
    )
    if not uow.refunds.add(refund):
        return False
    _succeed(uow, payment, refund, now=policy.now)
    return True


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_intent_changed,
    "payment_intent.payment_failed": payment_intent_changed,
    "payment_intent.requires_action": payment_intent_changed,
    "payment_intent.canceled": payment_intent_changed,
    "charge.succeeded": charge_changed,
    "charge.failed": charge_changed,
    "charge.refunded": charge_refunded,
}


def handle_event(uow: UnitOfWork, event: Event, policy: OutcomePolicy) -> bool:
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
        payment.payment_method_id = _remember_card(uow, payment, outcome).id
        if payment.subscription_id is not None:
            subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
            if subscription is not None and subscription.payment_method_id is None:
                subscription.payment_method_id = payment.payment_method_id
    return changed


def _payment_for(uow: UnitOfWork, outcome: IntentOutcome, obj: Event) -> Payment | None:
    """Our payment for a PaymentIntent, locked: by its id, or, when the event comes before we
    recorded the id (the answer to our call still on its way, or lost), by the payment id the
    library puts in every PaymentIntent's metadata."""
    if outcome.intent_id is None:
        return None
    payment = uow.payments.by_intent(outcome.intent_id, for_update=True)
    if payment is not None:
        return payment
    try:
        payment_id = uuid.UUID(str((obj.get("metadata") or {}).get("payment_id")))
    except ValueError:
        return None
    payment = uow.payments.get(payment_id, for_update=True)
    if payment is None or payment.stripe_transaction_id not in (None, outcome.intent_id):
        return None
    return payment


def _request_id(event: Event) -> str | None:
    request = event.get("request")
    return request.get("id") if isinstance(request, Mapping) else None
