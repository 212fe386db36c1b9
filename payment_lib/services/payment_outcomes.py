"""Recording what Stripe decided about a payment: one place, used by the request path, the
webhook handlers, recovery and reconcile, so each way of learning an outcome ends in the same
state, the same subscription change and the same email.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.payment_writes import record_pending
from payment_lib.db.tables import Payment, PaymentMethod
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.declines import Decline, explain_decline
from payment_lib.domain.errors import NotFound
from payment_lib.domain.money import format_amount
from payment_lib.domain.states import LEDGER_CORRECTIONS, PAYMENT_TRANSITIONS, PaymentStatus
from payment_lib.services.notify import notify
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.payment_rows import PaymentRow
from payment_lib.services.plan_credit import plan_change_paid, renewal_paid
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.subscriptions import (
    LIVE,
    renewal_failed,
    renewal_succeeded,
    start_subscription,
)
from payment_lib.stripe_objects import IntentOutcome

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OutcomePolicy:
    """What recording an outcome needs besides the outcome: the time, the retry schedule, and
    where to count ledger corrections."""

    now: dt.datetime
    retry_days: tuple[int, ...]
    metrics: Metrics | None = None


def status_for(outcome: IntentOutcome) -> PaymentStatus | None:
    """Our status for Stripe's; None while Stripe has not decided."""
    if outcome.status == "succeeded":
        return PaymentStatus.SUCCEEDED
    if outcome.status == "requires_action":
        return PaymentStatus.REQUIRES_ACTION
    if outcome.status == "canceled":
        return PaymentStatus.CANCELED
    if outcome.status == "requires_payment_method" and outcome.error_code:
        return PaymentStatus.FAILED
    return None


def record_outcome(
    payment_id: uuid.UUID,
    outcome: IntentOutcome,
    *,
    new_uow: NewUnitOfWork,
    policy: OutcomePolicy,
    sent: PaymentRow | None = None,
) -> PaymentInfo:
    """Transaction 2: write what Stripe decided, once; a late or repeated outcome is ignored.

    ``sent``: the row this process inserted as pending and sent, when it is a plain payment (no
    plan, no subscription): its outcome is written by one conditional UPDATE (then the card's
    row and id), without reading the row back; if anything else recorded it meanwhile, the UPDATE
    changes nothing and the payment is read, locked and recorded as below.
    """
    if sent is not None:
        recorded = _record_sent(sent, outcome, new_uow=new_uow, policy=policy)
        if recorded is not None:
            return recorded
    with new_uow() as uow:
        payment = uow.payments.get(payment_id, for_update=True)
        if payment is None:
            raise NotFound(f"No payment {payment_id}.")
        apply_outcome(uow, payment, outcome, policy=policy)
        payment.recovering_until = None
        uow.commit()
        return PaymentInfo.of(payment)


def _record_sent(
    sent: PaymentRow, outcome: IntentOutcome, *, new_uow: NewUnitOfWork, policy: OutcomePolicy
) -> PaymentInfo | None:
    """``record_outcome`` for a plain payment still ``pending``; None when it is not (plain,
    still pending, or a decided outcome), having changed nothing.

    One statement writes the outcome with the card (``payment_writes.record_pending``), on a
    Core connection, or in a unit of work when an email is queued with it."""
    target = status_for(outcome)
    plain = sent.plan_id is None and sent.subscription_id is None
    if not plain or sent.status != PaymentStatus.PENDING or target is None:
        return None
    changes, decline = outcome_changes(sent, target, outcome, policy)
    changes["recovering_until"] = None
    card = card_row(sent, outcome) if outcome.card is not None else None
    email = _plain_email(target) if sent.customer_email else None
    if email is None:
        with new_uow().core(autocommit=True) as connection:
            method_id = record_pending(connection, sent.id, changes, card)
    else:
        with new_uow() as uow:
            method_id = record_pending(uow.session.connection(), sent.id, changes, card)
            if method_id is not False:
                _apply(sent, changes, method_id)
                _notify(uow, sent, email, policy)
                uow.commit()
    if method_id is False:
        return None
    _apply(sent, changes, method_id)
    _log_outcome(sent, target, decline, outcome)
    return PaymentInfo.of(sent)


def _apply(payment: PaymentRow, changes: dict[str, object], method_id: uuid.UUID | bool) -> None:
    if isinstance(method_id, uuid.UUID):
        changes["payment_method_id"] = method_id
    for name, value in changes.items():
        setattr(payment, name, value)


def _plain_email(target: PaymentStatus) -> str | None:
    """The email a plain payment's new status sends (none for a canceled one)."""
    if target == PaymentStatus.SUCCEEDED:
        return "payment_confirmation"
    if target == PaymentStatus.FAILED:
        return "payment_failure"
    if target == PaymentStatus.REQUIRES_ACTION:
        return "action_required"
    return None


UNKNOWN_ATTEMPT = explain_decline("outcome_unknown", None)


def record_unknown(
    payment_id: uuid.UUID, reason: str, *, new_uow: NewUnitOfWork, policy: OutcomePolicy
) -> None:
    """An attempt ended without Stripe's answer: the payment is ``unknown`` until settled from
    Stripe. A renewal's attempt counts as spent (its subscription moves through the retry
    schedule as after a decline) once; the outcome, when known, decides the rest."""
    with new_uow() as uow:
        payment = uow.payments.get(payment_id, for_update=True)
        if payment is None or payment.status not in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN):
            return
        log.warning("payment outcome unknown", payment_id=str(payment.id), reason=reason)
        payment.status = PaymentStatus.UNKNOWN
        payment.updated_at = policy.now
        renewal_due = (payment.details or {}).get("renewal_due")
        if renewal_due and payment.subscription_id and not _attempt_counted(payment):
            subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
            if subscription is not None:
                due = dt.datetime.fromisoformat(renewal_due)
                renewal_failed(
                    subscription, due, UNKNOWN_ATTEMPT, now=policy.now, retry_days=policy.retry_days
                )
            payment.details = {**(payment.details or {}), "attempt_counted": True}
        uow.commit()


def _attempt_counted(payment: Payment) -> bool:
    return bool((payment.details or {}).get("attempt_counted"))


def apply_outcome(
    uow: UnitOfWork, payment: Payment, outcome: IntentOutcome, *, policy: OutcomePolicy
) -> bool:
    """Move ``payment`` to the state ``outcome`` implies, with everything that follows from it
    (card details, subscription, notifications) in the same transaction.

    Returns False when it changes nothing: an undecided, repeated or out-of-date outcome.
    """
    target = status_for(outcome)
    current = PaymentStatus(payment.status)
    correction = target in LEDGER_CORRECTIONS.get(current, ())
    if target is None or (target not in PAYMENT_TRANSITIONS[current] and not correction):
        if outcome.intent_id and payment.stripe_transaction_id is None:
            payment.stripe_transaction_id = outcome.intent_id
        return False  # undecided, already recorded, or older than what we know
    if correction:
        _correct(payment, current, target, outcome, policy)
    # Look the card up (and add it) before touching the payment, so that the payment's whole
    # change, its PaymentIntent id included, is one UPDATE.
    method = remember_card(uow, payment, outcome) if outcome.card is not None else None
    changes, decline = outcome_changes(payment, target, outcome, policy)
    if method is not None:
        changes["payment_method_id"] = method.id
    for name, value in changes.items():
        setattr(payment, name, value)
    _log_outcome(payment, target, decline, outcome)
    _notify(uow, payment, follow_up(uow, payment, target, decline, policy), policy)
    return True


def outcome_changes(
    payment: PaymentRow, target: PaymentStatus, outcome: IntentOutcome, policy: OutcomePolicy
) -> tuple[dict[str, object], Decline | None]:
    """The columns an outcome sets on the payment (but its card), and the decline if failed."""
    changes: dict[str, object] = {
        "status": target.value,
        "updated_at": policy.now,
        "redirect_url": outcome.redirect_url if target == PaymentStatus.REQUIRES_ACTION else None,
    }
    if outcome.intent_id and payment.stripe_transaction_id is None:
        changes["stripe_transaction_id"] = outcome.intent_id
    if target != PaymentStatus.FAILED:
        return changes, None
    decline = explain_decline(outcome.error_code, outcome.decline_code)
    changes["failure_code"], changes["failure_message"] = decline.code, decline.message
    changes["details"] = {
        **(payment.details or {}),
        "retry_helps": decline.retry_helps,
        "hard_decline": decline.hard,
    }
    return changes, decline


def _log_outcome(
    payment: PaymentRow, target: PaymentStatus, decline: Decline | None, outcome: IntentOutcome
) -> None:
    if decline is not None:
        log.info(  # a decline is a result for the caller, not a fault of the system
            "payment failed",
            payment_id=str(payment.id),
            code=decline.code,
            stripe_code=outcome.error_code,
            decline_code=outcome.decline_code,
            stripe_message=outcome.error_message,
            stripe_request_id=outcome.request_id,
        )
    else:
        log.info(
            "payment " + target.value.replace("_", " "),
            payment_id=str(payment.id),
            stripe_request_id=outcome.request_id,
        )


def _notify(uow: UnitOfWork, payment: PaymentRow, kind: str | None, policy: OutcomePolicy) -> None:
    if kind:
        notify(
            uow,
            kind,
            recipient=payment.customer_email,
            about=payment.id,
            payload=notification_payload(payment),
            now=policy.now,
        )


def _correct(
    payment: Payment,
    current: PaymentStatus,
    target: PaymentStatus,
    outcome: IntentOutcome,
    policy: OutcomePolicy,
) -> None:
    """Stripe says otherwise than our record (a success for a payment we recorded as failed):
    Stripe is the ledger of record, so its outcome wins, loudly."""
    kind = f"{current.value}_to_{target.value}"
    log.error(
        "ledger corrected",
        payment_id=str(payment.id),
        kind=kind,
        recorded_failure=payment.failure_code,
        stripe_payment_intent=outcome.intent_id,
        stripe_request_id=outcome.request_id,
    )
    payment.failure_code = payment.failure_message = None
    if policy.metrics is not None:
        policy.metrics.ledger_corrections_total.labels(kind=kind).inc()


def follow_up(
    uow: UnitOfWork,
    payment: Payment,
    target: PaymentStatus,
    decline: Decline | None,
    policy: OutcomePolicy,
) -> str | None:
    """Subscription changes a new payment status causes; returns the notification to send."""
    renewal_due = (payment.details or {}).get("renewal_due")
    subscription = None
    if payment.subscription_id is not None:
        subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
    if renewal_due and subscription is not None:
        due = dt.datetime.fromisoformat(renewal_due)
        if target == PaymentStatus.SUCCEEDED:
            if not renewal_succeeded(uow, subscription, due, now=policy.now):
                _paid_for_nothing(payment, subscription.status, policy)
            elif payment.plan_id:  # credit used, a scheduled plan applied
                renewal_paid(uow, subscription, payment.plan_id, payment.amount)
            return "renewal"
        if target == PaymentStatus.FAILED and decline is not None:
            if _attempt_counted(payment):  # counted when the attempt ended unknown
                live = subscription.status in LIVE and subscription.next_billing_date == due
                return "past_due" if live else None
            return renewal_failed(
                subscription, due, decline, now=policy.now, retry_days=policy.retry_days
            )
        return "action_required" if target == PaymentStatus.REQUIRES_ACTION else None
    if target == PaymentStatus.SUCCEEDED:
        if payment.plan_id and payment.subscription_id is None:
            start_subscription(uow, payment, now=policy.now)
        elif payment.kind == "proration" and subscription is not None:
            plan_change_paid(uow, payment, subscription, now=policy.now)
    return _plain_email(target)


def _paid_for_nothing(payment: Payment, subscription_status: str, policy: OutcomePolicy) -> None:
    """A renewal Stripe charged for a period the subscription no longer needs (it ended, or a
    later attempt paid it): marked, and the worker's refund pass gives it back
    (``services/duplicates.py``)."""
    payment.paid_for_nothing_at = policy.now
    log.error(
        "renewal paid but not applied: to be refunded",
        payment_id=str(payment.id),
        subscription_id=str(payment.subscription_id),
        subscription_status=subscription_status,
    )
    if policy.metrics is not None:
        policy.metrics.ledger_corrections_total.labels(kind="renewal_not_applied").inc()


def notification_payload(payment: PaymentRow) -> dict[str, object]:
    return {
        "payment_id": str(payment.id),
        "amount": format_amount(payment.amount, payment.currency),
        "currency": payment.currency,
        "status": payment.status,
        "failure_message": payment.failure_message,
        "redirect_url": payment.redirect_url,
        "subscription_id": str(payment.subscription_id) if payment.subscription_id else None,
        "plan_id": payment.plan_id,
    }


def remember_card(uow: UnitOfWork, payment: Payment, outcome: IntentOutcome) -> PaymentMethod:
    """The payment's card as a PaymentMethod row: the known one, or a new one (safe details)."""
    card = outcome.card
    assert card is not None
    known = uow.payment_methods.by_stripe_id(card.stripe_payment_method_id)
    if known is not None:
        return known
    return uow.payment_methods.add(PaymentMethod(**card_row(payment, outcome)))


def card_row(payment: PaymentRow, outcome: IntentOutcome) -> dict[str, object]:
    """The safe details of the outcome's card, as a PaymentMethod row's columns."""
    card = outcome.card
    assert card is not None
    return {
        "user_id": payment.user_id,
        "stripe_payment_method_id": card.stripe_payment_method_id,
        "stripe_customer_id": outcome.customer,
        "card_brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
    }
