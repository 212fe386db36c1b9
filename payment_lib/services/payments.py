"""Taking a payment: exactly one charge per idempotency key, whatever crashes where.

1. Transaction 1 (under the user's lock): replay, resume or conflict on a known key; otherwise
   apply the rate limit and insert the payment as ``pending``.
2. Stripe: create and confirm a PaymentIntent with a key derived from the payment's id, so a
   retry or a resumed attempt gets the same PaymentIntent back.
3. Transaction 2 (payment row locked): record the outcome and the card's safe details
   (``payment_outcomes``).
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog

from payment_lib.db.payment_writes import insert_pending
from payment_lib.db.tables import Payment
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.errors import (
    IdempotencyConflict,
    InvalidRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from payment_lib.domain.money import Money
from payment_lib.domain.states import UNSETTLED, PaymentStatus
from payment_lib.observability import trace
from payment_lib.services.customers import customer_for
from payment_lib.services.payment_outcomes import OutcomePolicy, record_outcome, record_unknown
from payment_lib.services.payment_requests import PaymentRequest
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.payment_rows import InsertedPayment, PaymentRow
from payment_lib.services.plans import refuse_archived
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.settle import confirm, needs_customer, settle
from payment_lib.services.subscriptions import refuse_second_purchase

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)

RATE_WINDOW = dt.timedelta(hours=1)


Stage = Literal["new", "resume", "replay"]


@dataclass(frozen=True)
class Renewal:
    """What makes a payment a subscription renewal: the period it pays and where to charge."""

    subscription_id: uuid.UUID
    customer: str
    due: dt.datetime


@dataclass(frozen=True)
class PlanChange:
    """What makes a payment a plan change's prorated charge: the subscription whose saved card
    pays off-session, and the change (from_plan_id, to_plan_id, period_end) it pays for,
    applied when the payment succeeds (``plan_credit.plan_change_paid``)."""

    subscription_id: uuid.UUID
    customer: str
    change: Mapping[str, str]


# A payment's kind: only plain payments count towards the rate limit and purchase checks.
_KINDS: dict[type, str] = {type(None): "payment", Renewal: "renewal", PlanChange: "proration"}


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
    renewal: Renewal | PlanChange | None = None,
) -> PaymentInfo:
    """Take one payment; see the module docstring for the steps.

    A plan payment also makes (or reuses) the user's Stripe Customer and saves the card for
    off-session renewals; ``renewal`` charges a subscription's saved card off-session (for a
    renewal, or for a plan change's prorated difference).

    Raises:
        InvalidRequest: the plan does not exist or its price differs.
        IdempotencyConflict: the key was used with a different request.
        RateLimited: too many attempts by this user in the last hour.
        ProviderUnavailable: Stripe could not be reached; the payment is ``unknown``. Retry
            with the same key: it asks Stripe and never charges twice (so does recovery).
        ProviderError: Stripe answered with an error we cannot classify; ``unknown`` too.
    """
    with trace(user_id=str(request.user_id), idempotency_key=request.idempotency_key):
        started = time.perf_counter()
        # A plan purchase's customer is made once the request passed its checks (below).
        customer = renewal.customer if renewal else None
        details: dict[str, object] = {
            "payment_method": request.payment_method,
            "return_url": request.return_url or default_return_url,
            "metadata": dict(request.metadata),
            "customer": customer,
            "off_session": request.off_session or renewal is not None,
            "save_for_off_session": bool(request.plan_id) and renewal is None,
            "renewal_due": renewal.due.isoformat() if isinstance(renewal, Renewal) else None,
        }
        if isinstance(renewal, PlanChange):
            details["plan_change"] = dict(renewal.change)
        payment, stage = _begin(
            request, details, new_uow=new_uow, clock=clock, rate_limit=rate_limit, renewal=renewal
        )
        if stage == "replay":
            log.info("payment replayed", payment_id=str(payment.id), status=payment.status)
            return PaymentInfo.of(payment, replayed=True)
        log.info(
            "payment attempt" if stage == "new" else "payment resumed",
            payment_id=str(payment.id),
            amount=payment.amount,
            currency=payment.currency,
        )
        policy = OutcomePolicy(now=clock(), retry_days=retry_days, metrics=metrics)
        if needs_customer(payment):
            payment = _with_customer(payment, new_uow=new_uow, gateway=gateway, now=policy.now)
        try:
            # A first attempt sends; a resumed one asks Stripe (sending again only while
            # Stripe surely remembers the key).
            outcome = (
                confirm(gateway, payment)
                if stage == "new"
                else settle(gateway, payment, policy.now)
            )
        except (ProviderUnavailable, ProviderError) as error:
            record_unknown(payment.id, error.code, new_uow=new_uow, policy=policy)
            raise
        sent = payment if stage == "new" else None
        result = record_outcome(payment.id, outcome, new_uow=new_uow, policy=policy, sent=sent)
        metrics.payments_total.labels(status=result.status).inc()
        metrics.payment_duration_seconds.observe(time.perf_counter() - started)
        return result


def _with_customer(
    payment: PaymentRow, *, new_uow: NewUnitOfWork, gateway: StripeGateway, now: dt.datetime
) -> Payment:
    """The payment with its user's Stripe Customer recorded in what its call sends."""
    customer = customer_for(
        payment.user_id, payment.customer_email, new_uow=new_uow, gateway=gateway, now=now
    )
    with new_uow() as uow:
        stored = uow.payments.get(payment.id, for_update=True)
        assert stored is not None
        stored.details = {**(stored.details or {}), "customer": customer}
        uow.commit()
        return stored


def _begin(
    request: PaymentRequest,
    details: dict[str, object],
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    rate_limit: int | None,
    renewal: Renewal | PlanChange | None,
) -> tuple[PaymentRow, Stage]:
    """Transaction 1: the payment to work on, and what to do with it: send it (``new``),
    settle an earlier attempt whose outcome is not known (``resume``), or ``replay`` it.

    A new key within the rate limit (not a plan purchase) costs one round trip on a Core
    connection, the user's lock and one INSERT that counts the attempts and takes the key; only
    when it inserts nothing are the key and the count looked at, under the lock again, to tell
    a replay from a conflict or the limit.
    """
    now = clock()
    values = _pending(request, details, now, renewal)
    purchase = request.plan_id is not None and renewal is None
    if not purchase:
        with new_uow().core(autocommit=True) as connection:
            if insert_pending(
                connection, values, attempts_since=now - RATE_WINDOW, limit=rate_limit, lock=True
            ):
                return InsertedPayment(values), "new"
    payment = Payment(**values)
    with new_uow() as uow:
        uow.locks.user(request.user_id)
        existing = uow.payments.by_idempotency_key(request.idempotency_key)
        if existing is not None:
            if existing.request_fingerprint != payment.request_fingerprint:
                raise IdempotencyConflict(
                    "This idempotency key was already used for a different payment request."
                )
            return existing, "resume" if existing.status in UNSETTLED else "replay"
        if purchase:
            _check_plan(uow, request)
            refuse_second_purchase(uow, request.user_id, request.plan_id or "")
        if rate_limit is not None:
            _check_rate(uow, request.user_id, now, rate_limit)
        if not uow.payments.insert_new(payment):
            # Another user's request took the key between our look-up and our insert (the
            # user lock serialises one user's requests, not two users').
            raise IdempotencyConflict(
                "This idempotency key was already used for a different payment request."
            )
        uow.commit()
        return payment, "new"


def _pending(
    request: PaymentRequest,
    details: dict[str, object],
    now: dt.datetime,
    renewal: Renewal | PlanChange | None,
) -> dict[str, object]:
    """The new payment's row, every column set (it is inserted by one Core statement)."""
    return dict(
        id=uuid.uuid4(),
        user_id=request.user_id,
        amount=request.money.minor,
        currency=request.money.currency,
        status=PaymentStatus.PENDING,
        kind=_KINDS[type(renewal)],
        idempotency_key=request.idempotency_key,
        request_fingerprint=request.fingerprint(),
        plan_id=request.plan_id,
        subscription_id=renewal.subscription_id if renewal else None,
        customer_email=request.customer_email,
        description=request.description,
        details=details,
        amount_refunded=0,
        amount_lost=0,
        created_at=now,
        updated_at=now,
    )


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
    refuse_archived(plan)
    if (plan.amount, plan.currency) != (request.money.minor, request.money.currency):
        raise InvalidRequest(
            f"The amount must match plan {plan.id!r}: {Money(plan.amount, plan.currency)}.",
            param="amount",
        )
