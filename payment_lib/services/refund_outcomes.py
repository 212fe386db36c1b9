"""Recording what Stripe decided about a refund: one place, used by the request path, recovery,
the webhook handlers and reconcile. A succeeded refund counts against its payment (a full one
cancels the subscription it paid for); a failed one gives its amount back."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Payment, Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.errors import (
    NotFound,
)
from payment_lib.domain.money import format_amount
from payment_lib.domain.states import (
    LIVE_SUBSCRIPTIONS,
    PaymentStatus,
    RefundStatus,
    SubscriptionStatus,
    check_payment_transition,
    check_refund_reversal,
    check_refund_transition,
)
from payment_lib.services.notify import notify
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.subscriptions import move_subscription

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.stripe_objects import RefundOutcome

from payment_lib.services.refund_results import RefundInfo, refund_info

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PendingRefund:
    """What the Stripe call needs to know about a refund that is still pending."""

    refund_id: uuid.UUID
    payment_id: uuid.UUID
    payment_intent: str
    amount: int
    reason: str | None
    requested_by: str
    stripe_refund_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, refund: Refund, payment: Payment) -> PendingRefund:
        return cls(
            refund_id=refund.id,
            payment_id=payment.id,
            payment_intent=payment.stripe_transaction_id or "",
            amount=refund.amount,
            reason=refund.reason,
            requested_by=refund.requested_by,
            stripe_refund_id=refund.stripe_refund_id,
            created_at=refund.created_at,
        )


def stripe_key_for(refund_id: uuid.UUID) -> str:
    """The idempotency key Stripe sees for a refund: derived, stable across retries."""
    return f"payment_lib-refund-{refund_id}"


def record_refund_outcome(
    pending: PendingRefund,
    outcome: RefundOutcome,
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
) -> RefundInfo:
    """Transaction 2: write what Stripe decided, once; a repeated outcome changes nothing."""

    def change(uow: UnitOfWork, payment: Payment, refund: Refund, now: dt.datetime) -> bool:
        refund.stripe_refund_id = outcome.refund_id
        if outcome.status == RefundStatus.SUCCEEDED:
            apply_refund_success(uow, payment, refund, now=now)
            return True
        if outcome.status in (RefundStatus.FAILED, "canceled"):
            reason = outcome.failure_reason or "no reason given"
            _mark_failed(refund, f"Stripe reports the refund {outcome.status}: {reason}.", now)
            return True
        log.info("refund pending at Stripe", stripe_status=outcome.status)
        return False

    return _settle(pending, change, new_uow=new_uow, clock=clock, metrics=metrics)


def fail_refund(
    pending: PendingRefund, message: str, *, new_uow: NewUnitOfWork, clock: Clock, metrics: Metrics
) -> RefundInfo:
    """Mark a pending refund failed (Stripe refused it, or never saw it): its amount is free."""

    def change(_uow: UnitOfWork, _payment: Payment, refund: Refund, now: dt.datetime) -> bool:
        _mark_failed(refund, message, now)
        return True

    return _settle(pending, change, new_uow=new_uow, clock=clock, metrics=metrics)


def _settle(
    pending: PendingRefund,
    change: Callable[[UnitOfWork, Payment, Refund, dt.datetime], bool],
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
) -> RefundInfo:
    """Apply ``change`` to the refund if it is still pending (payment row locked); count it."""
    with new_uow() as uow:
        payment = uow.payments.get(pending.payment_id, for_update=True)
        refund = uow.refunds.get(pending.refund_id)
        if payment is None or refund is None:
            raise NotFound(f"No refund {pending.refund_id}.")
        changed = refund.status == RefundStatus.PENDING and change(uow, payment, refund, clock())
        result = refund_info(uow, refund, payment)
        uow.commit()
    if changed:
        metrics.refunds_total.labels(status=result.status).inc()
    return result


def move_refund(refund: Refund, target: RefundStatus, *, now: dt.datetime) -> None:
    """One step of the refund state machine (IllegalTransition changes nothing)."""
    check_refund_transition(RefundStatus(refund.status), target)
    refund.status = target
    refund.updated_at = now


def _mark_failed(refund: Refund, message: str, now: dt.datetime) -> None:
    move_refund(refund, RefundStatus.FAILED, now=now)
    refund.failure_message = message[:500]
    log.error("refund failed", refund_id=str(refund.id), actor=refund.requested_by, reason=message)


def apply_refund_failure(
    uow: UnitOfWork, payment: Payment, refund: Refund, *, reason: str | None, now: dt.datetime
) -> bool:
    """Stripe failed a refund (after answering, for some cards): give its amount back to the
    payment if it was counted, and email the customer. False when there is nothing to undo.

    A subscription a full refund cancelled stays cancelled (an ended subscription never comes
    back); the error log tells a person to offer the customer a new one.
    """
    if refund.status == RefundStatus.FAILED:
        return False
    counted = refund.status == RefundStatus.SUCCEEDED
    move_refund(refund, RefundStatus.FAILED, now=now)
    refund.failure_message = f"Stripe failed the refund: {reason or 'no reason given'}"[:500]
    if counted:
        payment.amount_refunded -= refund.amount
        target = (
            PaymentStatus.PARTIALLY_REFUNDED
            if payment.amount_refunded > 0
            else PaymentStatus.SUCCEEDED
        )
        check_refund_reversal(PaymentStatus(payment.status), target)
        payment.status = target
        payment.updated_at = now
    notify(
        uow,
        "refund_failed",
        recipient=payment.customer_email,
        about=refund.id,
        payload={**_payload(refund, payment), "failure_reason": reason},
        now=now,
    )
    log.error(
        "refund failed at stripe",
        refund_id=str(refund.id),
        payment_id=str(payment.id),
        amount=refund.amount,
        reason=reason,
        money_returned_to_payment=counted,
        subscription_id=str(payment.subscription_id) if payment.subscription_id else None,
    )
    return True


def apply_refund_success(
    uow: UnitOfWork, payment: Payment, refund: Refund, *, now: dt.datetime
) -> None:
    """Count a refund Stripe made: the payment's refunded total and status, and a full refund
    of a purchase or renewal cancelling its subscription, in the caller's transaction (a plan
    change's prorated charge refunded, a goodwill gesture, leaves the subscription running)."""
    move_refund(refund, RefundStatus.SUCCEEDED, now=now)
    payment.amount_refunded += refund.amount
    full = payment.amount_refunded >= payment.amount
    target = PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED
    check_payment_transition(PaymentStatus(payment.status), target)
    payment.status = target
    payment.updated_at = now
    if full and payment.subscription_id is not None and _paid_for_access(payment):
        subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
        if subscription is not None and subscription.status in LIVE_SUBSCRIPTIONS:
            move_subscription(
                subscription, SubscriptionStatus.CANCELLED, now=now, reason="payment refunded"
            )
    notify(
        uow,
        "refund_confirmation",
        recipient=payment.customer_email,
        about=refund.id,
        payload={
            **_payload(refund, payment),
            "amount_refunded": format_amount(payment.amount_refunded, payment.currency),
            "fully_refunded": full,
        },
        now=now,
    )
    log.info(
        "refund succeeded",
        refund_id=str(refund.id),
        payment_id=str(payment.id),
        actor=refund.requested_by,
        amount=refund.amount,
        currency=refund.currency,
        payment_status=target.value,
        stripe_refund_id=refund.stripe_refund_id,
    )


def _paid_for_access(payment: Payment) -> bool:
    """Whether a subscription's ``payment`` paid for its access, so that refunding it in full
    ends the subscription (seed T047): the purchase or a renewal that was applied. Not an
    upgrade's prorated difference, nor a payment that paid for nothing."""
    return payment.kind != "proration" and payment.paid_for_nothing_at is None


def _payload(refund: Refund, payment: Payment) -> dict[str, object]:
    """What every email about a refund says."""
    return {
        "refund_id": str(refund.id),
        "payment_id": str(payment.id),
        "amount": format_amount(refund.amount, refund.currency),
        "currency": refund.currency,
    }
