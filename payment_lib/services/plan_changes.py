"""Changing a subscription's plan: upgrades now for the prorated difference, downgrades at the
period's end (by default), credit for what a cheaper plan leaves over.

1. Decide, under the subscription's lock: refuse what cannot change (another currency or
   interval, the same plan, an archived plan, a subscription that is not active), or work
   out when the change happens and what it costs (``domain/proration.py``).
2. A change that charges nothing (scheduled, a cheaper plan now, an amount too small for
   Stripe) is applied in that same transaction.
3. An upgrade charges the prorated difference off-session to the subscription's saved card,
   as a payment (``services/payments.py``) whose idempotency key names the subscription, the
   period and the attempt, never the plan nor the time: repeating the call reaches the same
   payment, and a concurrent upgrade to another plan the same key (one of them is charged).
   The plan switches in the transaction that records the payment's success
   (``plan_credit.plan_change_paid``), whoever learns it (this call, a webhook, recovery); a
   declined charge changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Payment, Plan, Subscription
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import IdempotencyConflict, InvalidRequest, NotFound
from payment_lib.domain.money import Money
from payment_lib.domain.proration import Proration
from payment_lib.domain.states import PaymentStatus
from payment_lib.observability import iso, trace
from payment_lib.services.payment_requests import PaymentRequest, optional_text, parse_uuid
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.payments import PlanChange, process_payment
from payment_lib.services.plan_change_rules import prorate_now, refuse_plan_change
from payment_lib.services.plan_credit import switch_plan, tell_plan_changed
from payment_lib.services.ports import Clock, NewUnitOfWork

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)

# What a change did (or, in a dry run, would do).
CHANGED, SCHEDULED, UNSCHEDULED = "changed", "scheduled", "unscheduled"
DECLINED, PENDING = "declined", "pending"
_SPENT = (PaymentStatus.FAILED, PaymentStatus.CANCELED)


@dataclass(frozen=True)
class PlanChangeInfo:
    """A plan change as callers see it.

    ``status``: ``changed`` (now), ``scheduled`` (at ``effective_at``, the period's end),
    ``unscheduled`` (a scheduled change was called off), ``declined`` (the prorated charge
    failed: nothing changed; see ``payment``), ``pending`` (the charge's outcome is not known
    yet: the plan switches if it succeeds). ``charge`` is charged now; ``credit`` is added to
    the subscription's credit (negative: a charge below Stripe's minimum, owed at the next
    renewal); ``credit_balance`` is the credit after the change.
    """

    subscription_id: uuid.UUID
    from_plan_id: str
    to_plan_id: str
    status: str
    effective_at: dt.datetime | None
    charge: Money
    credit: Money
    credit_balance: Money
    payment: PaymentInfo | None = None
    dry_run: bool = False
    replayed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "subscription_id": str(self.subscription_id),
            "from_plan_id": self.from_plan_id,
            "to_plan_id": self.to_plan_id,
            "status": self.status,
            "effective_at": iso(self.effective_at),
            "charge": {"amount": self.charge.amount, "currency": self.charge.currency},
            "credit": {"amount": self.credit.amount, "currency": self.credit.currency},
            "credit_balance": {
                "amount": self.credit_balance.amount,
                "currency": self.credit_balance.currency,
            },
            "payment": self.payment.to_dict() if self.payment else None,
            "dry_run": self.dry_run,
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class _Charge:
    """An upgrade's prorated charge, to be made after the deciding transaction."""

    request: PaymentRequest
    context: PlanChange


def change_plan(
    subscription_id: object,
    plan_id: object,
    *,
    proration: bool = True,
    at_period_end: bool | None = None,
    dry_run: bool = False,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
    retry_days: tuple[int, ...],
) -> PlanChangeInfo:
    """Move a subscription to ``plan_id``; see the module docstring and docs/library.md.

    ``at_period_end``: None (default) changes now when the new plan costs more, at the
    period's end otherwise; True or False forces it. ``proration=False`` changes now without
    charge or credit (the new price applies from the next renewal). Changing to the current
    plan calls a scheduled change off. ``dry_run`` decides and changes nothing.

    Raises:
        NotFound: no such subscription or plan.
        InvalidRequest: another currency or interval, the same plan, an archived plan, a plan
            the user already holds, no saved card, a payment of the subscription unsettled.
        IllegalTransition: the subscription is not active (ended, past due, paused) or ends
            at the period's end.
        ProviderUnavailable: Stripe did not answer the charge: repeat the call (same key).
    """
    wanted = parse_uuid(subscription_id, "subscription_id")
    refuse_card_numbers({"plan_id": plan_id})
    target_id = optional_text(plan_id, "plan_id", 64)
    if not target_id:
        raise InvalidRequest("plan_id must name a plan.", param="plan_id")
    with trace(), structlog.contextvars.bound_contextvars(subscription_id=str(wanted)):
        for tries_left in (1, 0):
            with new_uow() as uow:
                decided = _decide(
                    uow,
                    wanted,
                    target_id,
                    proration=proration,
                    at_period_end=at_period_end,
                    dry_run=dry_run,
                    now=clock(),
                )
                if isinstance(decided, PlanChangeInfo):
                    if not dry_run:
                        uow.commit()  # a change that charges nothing is applied now
                        metrics.plan_changes_total.labels(outcome=decided.status).inc()
                    return decided
            try:
                payment = process_payment(
                    decided.request,
                    new_uow=new_uow,
                    gateway=gateway,
                    clock=clock,
                    metrics=metrics,
                    rate_limit=None,
                    retry_days=retry_days,
                    renewal=decided.context,
                )
            except IdempotencyConflict:
                # A concurrent call made this attempt's payment first, a moment earlier (so
                # for another amount): decide again, which continues that payment.
                if not tries_left:
                    raise
                continue
            charged = _charged(decided, payment, new_uow=new_uow)
            metrics.plan_changes_total.labels(outcome=charged.status).inc()
            return charged
    raise AssertionError("unreachable")


def _decide(
    uow: UnitOfWork,
    subscription_id: uuid.UUID,
    plan_id: str,
    *,
    proration: bool,
    at_period_end: bool | None,
    dry_run: bool,
    now: dt.datetime,
) -> PlanChangeInfo | _Charge:
    """What the change does: an applied (or, in a dry run, previewed) change, or the
    upgrade's charge still to make."""
    subscription = uow.subscriptions.get(subscription_id, for_update=True)
    if subscription is None:
        raise NotFound(f"No subscription {subscription_id}.")
    target = uow.plans.get(plan_id)
    if target is None:
        raise NotFound(f"No plan {plan_id!r}.", param="plan_id")
    current = uow.plans.get(subscription.plan_id)
    assert current is not None
    end = subscription.next_billing_date
    key, earlier = _attempt(uow, subscription, target, end)
    if earlier is not None and not dry_run:  # repeated: resume or replay the same payment
        return _charge(uow, subscription, target, key, earlier.amount, earlier)
    refuse_plan_change(uow, subscription, current, target, now)
    assert end is not None
    zero = Money(0, target.currency)
    preview = PlanChangeInfo(
        subscription.id, current.id, target.id, CHANGED, now, zero, zero, zero, dry_run=dry_run
    )
    if target.id == current.id:  # call a scheduled change off
        if not dry_run:
            subscription.scheduled_plan_id = None
            subscription.updated_at = now
            log.info("scheduled plan change called off", plan_id=current.id)
        return _info(preview, subscription, UNSCHEDULED, effective_at=None)
    if at_period_end or (at_period_end is None and target.amount < current.amount):
        if not dry_run:
            subscription.scheduled_plan_id = target.id
            subscription.updated_at = now
            log.info("plan change scheduled", to_plan_id=target.id, at=end.isoformat())
            tell_plan_changed(
                uow,
                subscription,
                current.id,
                target,
                charged=0,
                credit=0,
                when=end,
                about=f"{subscription.id}:scheduled:{target.id}:{end.isoformat()}",
                now=now,
            )
        return _info(preview, subscription, SCHEDULED, effective_at=end)
    money = prorate_now(subscription, current, target, now) if proration else Proration(0, 0)
    if money.charge:
        if dry_run:
            return _info(preview, subscription, CHANGED, effective_at=now, charge=money.charge)
        return _charge(uow, subscription, target, key, money.charge, None)
    if not dry_run:
        switch_plan(
            uow,
            subscription,
            target,
            charged=0,
            credit=money.credit,
            now=now,
            about=f"{subscription.id}:{current.id}:{target.id}:{end.isoformat()}",
        )
    return _info(preview, subscription, CHANGED, effective_at=now, credit=money.credit)


def _attempt(
    uow: UnitOfWork, subscription: Subscription, target: Plan, end: dt.datetime | None
) -> tuple[str, Payment | None]:
    """The idempotency key of this change's charge, and the payment already made with it
    that this call continues (unsettled, or the succeeded one that made the current plan).

    The key names the subscription, the period and the attempt, never the plan nor the time:
    two upgrades to different plans at once reach the same key, so one is charged and the
    other, deciding again, is refused while it is unsettled, or charged from the plan it made.
    A declined attempt, or a change made or undone since, moves on to the next number.

    Raises:
        InvalidRequest: this period's charge for a change to another plan is still unsettled.
    """
    prefix = f"payment_lib-plan-change-{subscription.id}-{iso(end)}"
    attempt = 1
    while True:
        key = f"{prefix}-{attempt}"
        payment = uow.payments.by_idempotency_key(key)
        if payment is None:
            return key, None
        made = ((payment.details or {}).get("plan_change") or {}).get("to_plan_id")
        unsettled = payment.status in (
            PaymentStatus.PENDING,
            PaymentStatus.UNKNOWN,
            PaymentStatus.REQUIRES_ACTION,
        )
        if unsettled and made != target.id:
            raise InvalidRequest(
                f"A change of this subscription to plan {made!r} is still being charged; "
                "try again once it settled.",
                param="plan_id",
            )
        spent = payment.status in _SPENT or (
            not unsettled and (subscription.plan_id != made or made != target.id)
        )
        if not spent:
            return key, payment
        attempt += 1


def _charge(
    uow: UnitOfWork,
    subscription: Subscription,
    target: Plan,
    key: str,
    amount: int,
    earlier: Payment | None,
) -> _Charge:
    """The prorated charge's request: built the same way every time (an earlier attempt's
    amount and card), so a repeated call is the same request under the same key."""
    method = (
        uow.payment_methods.get(subscription.payment_method_id)
        if subscription.payment_method_id
        else None
    )
    details = (earlier.details or {}) if earlier is not None else {}
    card = details.get("payment_method") or (method.stripe_payment_method_id if method else None)
    customer = details.get("customer") or (method.stripe_customer_id if method else None)
    if not card or not customer:
        raise InvalidRequest(
            "This subscription has no saved card to charge the upgrade to.",
            param="subscription_id",
        )
    change = details.get("plan_change") or {
        "from_plan_id": subscription.plan_id,
        "to_plan_id": target.id,
        "period_end": iso(subscription.next_billing_date) or "",
    }
    request = PaymentRequest(
        user_id=subscription.user_id,
        money=Money(amount, target.currency),
        payment_method=str(card),
        idempotency_key=key,
        customer_email=subscription.customer_email,
        description=f"Plan change to {target.id} (prorated)",
        metadata={"subscription_id": str(subscription.id), "plan_change": target.id},
        off_session=True,
    )
    return _Charge(request, PlanChange(subscription.id, str(customer), dict(change)))


def _charged(decided: _Charge, payment: PaymentInfo, *, new_uow: NewUnitOfWork) -> PlanChangeInfo:
    """The change as the charge left it."""
    change = decided.context.change
    with new_uow() as uow:
        subscription = uow.subscriptions.get(decided.context.subscription_id)
        assert subscription is not None
        applied = subscription.plan_id == change["to_plan_id"]
        credit_balance = subscription.credit
    if payment.status == PaymentStatus.SUCCEEDED and applied:
        status = CHANGED
    elif payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        status = DECLINED
        log.warning("plan change declined", code=payment.error.code if payment.error else None)
    else:
        status = PENDING
    currency = payment.amount.currency
    return PlanChangeInfo(
        decided.context.subscription_id,
        change["from_plan_id"],
        change["to_plan_id"],
        status,
        payment.created_at if status == CHANGED else None,
        payment.amount if status != DECLINED else Money(0, currency),
        Money(0, currency),
        Money(credit_balance, currency),
        payment=payment,
        replayed=payment.replayed,
    )


def _info(
    preview: PlanChangeInfo,
    subscription: Subscription,
    status: str,
    *,
    effective_at: dt.datetime | None,
    charge: int = 0,
    credit: int = 0,
) -> PlanChangeInfo:
    """A change that needs no charge now (or any change, previewed by a dry run)."""
    currency = preview.charge.currency
    balance = subscription.credit + (credit if preview.dry_run else 0)
    return PlanChangeInfo(
        preview.subscription_id,
        preview.from_plan_id,
        preview.to_plan_id,
        status,
        effective_at,
        Money(charge, currency),
        Money(credit, currency),
        Money(balance, currency),
        dry_run=preview.dry_run,
    )
