"""Taking a payment: exactly one charge per idempotency key, whatever crashes where.

1. Transaction 1 (under the user's lock): replay, resume or conflict on a known key; otherwise
   apply the rate limit and insert the payment as ``pending``.
2. Stripe: create and confirm a PaymentIntent with a key derived from the payment's id, so a
   retry or a resumed attempt gets the same PaymentIntent back.
3. Transaction 2 (payment row locked): record the outcome and the card's safe details.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Payment, PaymentMethod
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.declines import Decline, explain_decline
from payment_lib.domain.errors import (
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
)
from payment_lib.domain.money import Money, format_amount
from payment_lib.domain.states import PAYMENT_TRANSITIONS, PaymentStatus
from payment_lib.observability import trace
from payment_lib.services.payment_requests import PaymentRequest, parse_uuid
from payment_lib.services.subscriptions import (
    refuse_second_purchase,
    renewal_failed,
    renewal_succeeded,
    start_subscription,
)
from payment_lib.stripe_objects import IntentOutcome

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.stripe_gateway import StripeGateway

log = structlog.get_logger(__name__)

RATE_WINDOW = dt.timedelta(hours=1)
# Stripe keeps idempotency keys for 24 hours; past that a resumed call could charge again.
SAFE_RESUME_WINDOW = dt.timedelta(hours=23)

Clock = Callable[[], dt.datetime]
NewUnitOfWork = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class FailureInfo:
    code: str
    message: str
    retry_helps: bool

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "retry_helps": self.retry_helps}


@dataclass(frozen=True)
class PaymentResult:
    """A payment as callers see it."""

    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    amount: Money
    amount_refunded: Money
    stripe_transaction_id: str | None
    redirect_url: str | None
    subscription_id: uuid.UUID | None
    plan_id: str | None
    error: FailureInfo | None
    created_at: dt.datetime
    replayed: bool = False
    dispute_status: str | None = None  # the status of the payment's dispute, if it has one
    amount_lost: Money | None = None  # lost to a dispute: its amount once lost

    @classmethod
    def of(cls, payment: Payment, *, replayed: bool = False) -> PaymentResult:
        error = None
        if payment.failure_code:
            retry = bool((payment.details or {}).get("retry_helps", False))
            error = FailureInfo(payment.failure_code, payment.failure_message or "", retry)
        return cls(
            id=payment.id,
            user_id=payment.user_id,
            status=payment.status,
            amount=Money(payment.amount, payment.currency),
            amount_refunded=Money(payment.amount_refunded, payment.currency),
            stripe_transaction_id=payment.stripe_transaction_id,
            redirect_url=payment.redirect_url,
            subscription_id=payment.subscription_id,
            plan_id=payment.plan_id,
            error=error,
            created_at=payment.created_at,
            replayed=replayed,
            dispute_status=payment.dispute_status,
            amount_lost=Money(payment.amount_lost or 0, payment.currency),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "user_id": str(self.user_id),
            "status": self.status,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "amount_refunded": self.amount_refunded.amount,
            "stripe_transaction_id": self.stripe_transaction_id,
            "redirect_url": self.redirect_url,
            "subscription_id": str(self.subscription_id) if self.subscription_id else None,
            "plan_id": self.plan_id,
            "error": self.error.to_dict() if self.error else None,
            "created_at": self.created_at.isoformat(),
            "replayed": self.replayed,
            "dispute_status": self.dispute_status,
            "amount_lost": self.amount_lost.amount if self.amount_lost is not None else None,
        }


@dataclass(frozen=True)
class Renewal:
    """What makes a payment a subscription renewal: the period it pays and where to charge."""

    subscription_id: uuid.UUID
    customer: str
    due: dt.datetime


@dataclass(frozen=True)
class OutcomePolicy:
    """What recording an outcome needs besides the outcome: the time and the retry schedule."""

    now: dt.datetime
    retry_days: tuple[int, ...]


def stripe_key_for(payment_id: uuid.UUID) -> str:
    """The idempotency key Stripe sees for a payment: derived, stable across retries."""
    return f"payment_lib-payment-{payment_id}"


def process_payment(
    request: PaymentRequest,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
    rate_limit: int | None,
    retry_days: tuple[int, ...] = (),
    default_return_url: str | None = None,
    renewal: Renewal | None = None,
) -> PaymentResult:
    """Take one payment; see the module docstring for the steps.

    A plan payment also makes (or reuses) the user's Stripe Customer and saves the card for
    off-session renewals; ``renewal`` charges a subscription's saved card off-session.

    Raises:
        InvalidRequest: the plan does not exist or its price differs.
        IdempotencyConflict: the key was used with a different request.
        RateLimited: too many attempts by this user in the last hour.
        ProviderUnavailable: Stripe could not be reached; retry with the same key.
    """
    with (
        trace(),
        structlog.contextvars.bound_contextvars(
            user_id=str(request.user_id), idempotency_key=request.idempotency_key
        ),
    ):
        started = time.perf_counter()
        customer = renewal.customer if renewal else None
        if request.plan_id and renewal is None:
            customer = _customer_for(request, new_uow=new_uow, gateway=gateway)
        details: dict[str, object] = {
            "payment_method": request.payment_method,
            "return_url": request.return_url or default_return_url,
            "metadata": dict(request.metadata),
            "customer": customer,
            "off_session": request.off_session or renewal is not None,
            "save_for_off_session": bool(request.plan_id) and renewal is None,
            "renewal_due": renewal.due.isoformat() if renewal else None,
        }
        payment, replay = _begin(
            request, details, new_uow=new_uow, clock=clock, rate_limit=rate_limit, renewal=renewal
        )
        if replay:
            log.info("payment replayed", payment_id=str(payment.id), status=payment.status)
            return PaymentResult.of(payment, replayed=True)
        log.info(
            "payment attempt",
            payment_id=str(payment.id),
            amount=payment.amount,
            currency=payment.currency,
        )
        outcome = _confirm(gateway, payment)
        policy = OutcomePolicy(now=clock(), retry_days=retry_days)
        result = record_outcome(payment.id, outcome, new_uow=new_uow, policy=policy)
        metrics.payments_total.labels(status=result.status).inc()
        metrics.payment_duration_seconds.observe(time.perf_counter() - started)
        return result


def _customer_for(
    request: PaymentRequest, *, new_uow: NewUnitOfWork, gateway: StripeGateway
) -> str:
    """The user's Stripe Customer: the saved one, or a new one (one per user: the key is
    derived from the user id, so concurrent first purchases get the same Customer)."""
    with new_uow() as uow:
        known = uow.payment_methods.customer_of(request.user_id)
    return known or gateway.create_customer(
        user_id=str(request.user_id),
        email=request.customer_email,
        idempotency_key=f"payment_lib-customer-{request.user_id}",
    )


def _confirm(gateway: StripeGateway, payment: Payment) -> IntentOutcome:
    """The Stripe call for a payment, built only from what is stored, so that a resumed or
    recovered attempt sends exactly the same request under the same idempotency key.

    A request Stripe refuses outright (InvalidRequest, ProviderError: nothing was charged)
    is an outcome too, ``payment_refused``, so the payment fails instead of staying pending.
    """
    try:
        return _send(gateway, payment)
    except (InvalidRequest, ProviderError) as refusal:
        return IntentOutcome(
            intent_id=None,
            status="requires_payment_method",
            error_code="payment_refused",
            error_message=refusal.message,
            request_id=refusal.stripe_request_id,
        )


def _send(gateway: StripeGateway, payment: Payment) -> IntentOutcome:
    details = payment.details or {}
    return gateway.confirm_payment(
        amount=payment.amount,
        currency=payment.currency,
        payment_method=str(details["payment_method"]),
        idempotency_key=stripe_key_for(payment.id),
        return_url=details.get("return_url"),
        description=payment.description,
        metadata={
            **details.get("metadata", {}),
            "payment_id": str(payment.id),
            "user_id": str(payment.user_id),
        },
        customer=details.get("customer"),
        off_session=bool(details.get("off_session")),
        save_for_off_session=bool(details.get("save_for_off_session")),
    )


def _begin(
    request: PaymentRequest,
    details: dict[str, object],
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    rate_limit: int | None,
    renewal: Renewal | None,
) -> tuple[Payment, bool]:
    """Transaction 1: the payment to work on, and whether it is a finished one to replay."""
    with new_uow() as uow:
        uow.locks.user(request.user_id)
        existing = uow.payments.by_idempotency_key(request.idempotency_key)
        if existing is not None:
            if existing.request_fingerprint != request.fingerprint():
                raise IdempotencyConflict(
                    "This idempotency key was already used for a different payment request."
                )
            return existing, existing.status != PaymentStatus.PENDING
        if request.plan_id is not None and renewal is None:
            _check_plan(uow, request)
            refuse_second_purchase(uow, request.user_id, request.plan_id)
        now = clock()
        if rate_limit is not None:
            _check_rate(uow, request.user_id, now, rate_limit)
        payment = uow.payments.add(
            Payment(
                user_id=request.user_id,
                amount=request.money.minor,
                currency=request.money.currency,
                status=PaymentStatus.PENDING,
                kind="renewal" if renewal else "payment",
                idempotency_key=request.idempotency_key,
                request_fingerprint=request.fingerprint(),
                plan_id=request.plan_id,
                subscription_id=renewal.subscription_id if renewal else None,
                customer_email=request.customer_email,
                description=request.description,
                details=details,
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
        return payment, False


def _check_rate(uow: UnitOfWork, user_id: uuid.UUID, now: dt.datetime, rate_limit: int) -> None:
    """Refuse the attempt when the user made ``rate_limit`` attempts in the last hour."""
    attempts = uow.payments.attempts_since(user_id, now - RATE_WINDOW)
    if len(attempts) >= rate_limit:
        frees_at = attempts[len(attempts) - rate_limit] + RATE_WINDOW
        wait = max(1, math.ceil((frees_at - now).total_seconds()))
        log.info("payment rate limited", retry_after=wait)
        raise RateLimited(
            f"Too many payment attempts: at most {rate_limit} an hour. "
            f"Try again in {wait} seconds.",
            retry_after=wait,
        )


def _check_plan(uow: UnitOfWork, request: PaymentRequest) -> None:
    plan = uow.plans.get(request.plan_id or "")
    if plan is None:
        raise InvalidRequest(f"No plan {request.plan_id!r}.", param="plan_id")
    if (plan.amount, plan.currency) != (request.money.minor, request.money.currency):
        raise InvalidRequest(
            f"The amount must match plan {plan.id!r}: {Money(plan.amount, plan.currency)}.",
            param="amount",
        )


def _status_for(outcome: IntentOutcome) -> PaymentStatus | None:
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
) -> PaymentResult:
    """Transaction 2: write what Stripe decided, once; a late or repeated outcome is ignored."""
    with new_uow() as uow:
        payment = uow.payments.get(payment_id, for_update=True)
        if payment is None:
            raise NotFound(f"No payment {payment_id}.")
        apply_outcome(uow, payment, outcome, policy=policy)
        uow.commit()
        return PaymentResult.of(payment)


def apply_outcome(
    uow: UnitOfWork, payment: Payment, outcome: IntentOutcome, *, policy: OutcomePolicy
) -> bool:
    """Move ``payment`` to the state ``outcome`` implies, with everything that follows from it
    (card details, subscription, notifications) in the same transaction.

    Returns False when it changes nothing: an undecided, repeated or out-of-date outcome.
    """
    target = _status_for(outcome)
    current = PaymentStatus(payment.status)
    if outcome.intent_id and payment.stripe_transaction_id is None:
        payment.stripe_transaction_id = outcome.intent_id
    if target is None or target not in PAYMENT_TRANSITIONS[current]:
        return False  # undecided, already recorded, or older than what we know
    # Look the card up before touching the payment, so the whole change is one flush.
    method = remember_card(uow, payment, outcome) if outcome.card is not None else None
    payment.status = target
    payment.updated_at = policy.now
    payment.redirect_url = outcome.redirect_url if target == PaymentStatus.REQUIRES_ACTION else None
    if method is not None:
        payment.payment_method_id = method.id
    decline = None
    if target == PaymentStatus.FAILED:
        decline = explain_decline(outcome.error_code, outcome.decline_code)
        payment.failure_code, payment.failure_message = decline.code, decline.message
        payment.details = {
            **(payment.details or {}),
            "retry_helps": decline.retry_helps,
            "hard_decline": decline.hard,
        }
        log.error(
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
    kind = _follow_up(uow, payment, target, decline, policy)
    if kind and payment.customer_email:
        uow.notifications.enqueue(
            {
                "recipient": payment.customer_email,
                "kind": kind,
                "payload": _notification_payload(payment),
                "dedupe_key": f"{kind}:{payment.id}",
                "created_at": policy.now,
            }
        )
    return True


def _follow_up(
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
            renewal_succeeded(uow, subscription, due, now=policy.now)
            return "renewal"
        if target == PaymentStatus.FAILED and decline is not None:
            return renewal_failed(
                subscription, due, decline, now=policy.now, retry_days=policy.retry_days
            )
        return "action_required" if target == PaymentStatus.REQUIRES_ACTION else None
    if target == PaymentStatus.SUCCEEDED:
        if payment.plan_id and payment.subscription_id is None:
            start_subscription(uow, payment, now=policy.now)
        return "payment_confirmation"
    if target == PaymentStatus.FAILED:
        return "payment_failure"
    if target == PaymentStatus.REQUIRES_ACTION:
        return "action_required"
    return None


def _notification_payload(payment: Payment) -> dict[str, object]:
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
    return uow.payment_methods.add(
        PaymentMethod(
            user_id=payment.user_id,
            stripe_payment_method_id=card.stripe_payment_method_id,
            stripe_customer_id=outcome.customer,
            card_brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )
    )


def refresh_payment(
    payment_id: object, *, new_uow: NewUnitOfWork, gateway: StripeGateway, policy: OutcomePolicy
) -> PaymentResult:
    """Ask Stripe for the payment's PaymentIntent and record what it says now."""
    with trace():
        payment = get_payment(payment_id, new_uow=new_uow)
        if payment.stripe_transaction_id is None:
            return payment
        outcome = gateway.retrieve_payment(payment.stripe_transaction_id)
        return record_outcome(payment.id, outcome, new_uow=new_uow, policy=policy)


def recover_stale_payments(
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    retry_days: tuple[int, ...] = (),
    older_than: dt.timedelta = dt.timedelta(minutes=2),
    limit: int = 50,
) -> list[PaymentResult]:
    """Finish payments left ``pending`` by a crash, by replaying their Stripe call.

    The replay uses the payment's own Stripe idempotency key, so Stripe answers with the
    PaymentIntent it already made (or makes the one that never got made). Payments older
    than Stripe's 24-hour key window are not replayed: they are marked failed with code
    ``outcome_unknown`` and logged for a person to reconcile.
    """
    recovered = []
    now = clock()
    with new_uow() as uow:
        stale = [
            (p.id, p.created_at)
            for p in uow.payments.claim_stale_pending(now - older_than, limit=limit)
        ]
    for payment_id, created_at in stale:
        with trace(), structlog.contextvars.bound_contextvars(payment_id=str(payment_id)):
            if now - created_at > SAFE_RESUME_WINDOW:
                recovered.append(_give_up(payment_id, new_uow=new_uow))
                continue
            with new_uow() as uow:
                payment = uow.payments.get(payment_id)
            assert payment is not None
            log.info("recovering pending payment")
            outcome = _confirm(gateway, payment)
            policy = OutcomePolicy(now=clock(), retry_days=retry_days)
            recovered.append(record_outcome(payment_id, outcome, new_uow=new_uow, policy=policy))
    return recovered


def _give_up(payment_id: uuid.UUID, *, new_uow: NewUnitOfWork) -> PaymentResult:
    with new_uow() as uow:
        payment = uow.payments.get(payment_id, for_update=True)
        assert payment is not None
        payment.status = PaymentStatus.FAILED
        payment.failure_code = "outcome_unknown"
        payment.failure_message = "The payment's outcome could not be confirmed with Stripe."
        log.error("pending payment outside Stripe's idempotency window; reconcile by hand")
        uow.commit()
        return PaymentResult.of(payment)


def get_payment(payment_id: object, *, new_uow: NewUnitOfWork) -> PaymentResult:
    """One payment by id. Raises InvalidRequest for a malformed id, NotFound if unknown."""
    wanted = parse_uuid(payment_id, "payment_id")
    with new_uow() as uow:
        payment = uow.payments.get(wanted)
        if payment is None:
            raise NotFound(f"No payment {wanted}.")
        return PaymentResult.of(payment)


def list_payments(user_id: object, *, new_uow: NewUnitOfWork) -> list[PaymentResult]:
    """A user's payments, newest first."""
    user = parse_uuid(user_id, "user_id")
    with new_uow() as uow:
        return [PaymentResult.of(p) for p in uow.payments.for_user(user)]
