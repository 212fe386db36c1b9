"""Subscriptions: one state machine, started by a plan payment, renewed by billing runs.

Every change to a subscription goes through ``move_subscription`` (the state machine) or the
payment-outcome hooks below, which run in the same transaction as the payment they follow.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Payment, PaymentMethod, Subscription
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.billing import billing_date, next_billing_date_after
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.declines import Decline
from payment_lib.domain.errors import InvalidRequest, NotFound
from payment_lib.domain.states import (
    LIVE_SUBSCRIPTIONS,
    SubscriptionStatus,
    check_subscription_transition,
)
from payment_lib.observability import iso
from payment_lib.services.customers import customer_for
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.ports import NewUnitOfWork

if TYPE_CHECKING:
    from payment_lib.services.ports import StripeGateway
    from payment_lib.stripe_objects import CardDetails

log = structlog.get_logger(__name__)

LIVE = LIVE_SUBSCRIPTIONS


@dataclass(frozen=True)
class SubscriptionInfo:
    """A subscription as callers see it."""

    id: uuid.UUID
    user_id: uuid.UUID
    plan_id: str
    status: str
    start_date: dt.datetime
    next_billing_date: dt.datetime | None
    end_date: dt.datetime | None
    cancel_at_period_end: bool
    failed_attempts: int
    next_retry_at: dt.datetime | None
    scheduled_plan_id: str | None = None  # the plan a change moves it to at the period's end
    trial_ends_at: dt.datetime | None = None
    paused_at: dt.datetime | None = None
    pause_until: dt.datetime | None = None

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionInfo:
        return cls(
            s.id,
            s.user_id,
            s.plan_id,
            s.status,
            s.start_date,
            s.next_billing_date,
            s.end_date,
            s.cancel_at_period_end,
            s.failed_attempts,
            s.next_retry_at,
            s.scheduled_plan_id,
            s.trial_ends_at,
            s.paused_at,
            s.pause_until,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "user_id": str(self.user_id),
            "plan_id": self.plan_id,
            "status": self.status,
            "start_date": iso(self.start_date),
            "next_billing_date": iso(self.next_billing_date),
            "end_date": iso(self.end_date),
            "cancel_at_period_end": self.cancel_at_period_end,
            "failed_attempts": self.failed_attempts,
            "next_retry_at": iso(self.next_retry_at),
            "scheduled_plan_id": self.scheduled_plan_id,
            "trial_ends_at": iso(self.trial_ends_at),
            "paused_at": iso(self.paused_at),
            "pause_until": iso(self.pause_until),
        }


def move_subscription(
    subscription: Subscription, target: SubscriptionStatus, *, now: dt.datetime, reason: str
) -> None:
    """Apply one state-machine transition (IllegalTransition changes nothing).

    Ending states (cancelled, expired) set ``end_date`` and stop billing.
    """
    check_subscription_transition(SubscriptionStatus(subscription.status), target)
    previous = subscription.status
    subscription.status = target
    subscription.updated_at = now
    if target in (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED):
        subscription.end_date = now
        subscription.next_billing_date = None
        subscription.next_retry_at = None
    log.info(
        "subscription changed",
        subscription_id=str(subscription.id),
        old_status=previous,
        new_status=target.value,
        reason=reason,
    )


def refuse_second_purchase(uow: UnitOfWork, user_id: uuid.UUID, plan_id: str) -> None:
    """A user holds at most one live subscription per plan: buying it again is refused, and so
    is buying it while an earlier purchase is still in progress (authenticating, or its
    outcome not known yet). The caller holds the user's lock.

    Refusing (rather than extending) means a double click can never pay twice for the same
    period; a user who wants more time renews, or cancels and buys again.
    """
    if any(s.plan_id == plan_id and s.status in LIVE for s in uow.subscriptions.for_user(user_id)):
        raise InvalidRequest(
            f"This user is already subscribed to plan {plan_id!r}.", param="plan_id"
        )
    if uow.payments.purchases_in_progress(user_id, plan_id):
        raise InvalidRequest(
            f"A purchase of plan {plan_id!r} by this user is still in progress (waiting for "
            "authentication or for Stripe): finish it, or wait for it to fail.",
            param="plan_id",
        )


def start_subscription(
    uow: UnitOfWork, payment: Payment, *, now: dt.datetime
) -> Subscription | None:
    """Create the subscription a succeeded plan payment pays for, and link the payment.

    None when the user already has a live subscription to the plan (a second payment that
    succeeded anyway): the payment stays unlinked, and ``duplicates`` refunds it.
    """
    plan = uow.plans.get(payment.plan_id or "")
    assert plan is not None
    subscription = Subscription(
        user_id=payment.user_id,
        customer_email=payment.customer_email,
        plan_id=plan.id,
        status=SubscriptionStatus.ACTIVE,
        payment_method_id=payment.payment_method_id,
        start_date=now,
        next_billing_date=billing_date(now, plan.interval, plan.interval_count, 1),
        created_at=now,
        updated_at=now,
    )
    if not uow.subscriptions.add(subscription):
        log.error(
            "second live subscription refused",
            payment_id=str(payment.id),
            user_id=str(payment.user_id),
            plan_id=plan.id,
            action="the payment is refunded automatically (reason duplicate)",
        )
        return None
    payment.subscription_id = subscription.id
    log.info("subscription started", subscription_id=str(subscription.id), plan_id=plan.id)
    return subscription


def renewal_succeeded(
    uow: UnitOfWork, subscription: Subscription, due: dt.datetime, *, now: dt.datetime
) -> bool:
    """Extend by one period, once; False when a success for ``due`` comes too late to count
    (the period was paid already, or the subscription ended)."""
    if subscription.next_billing_date != due or subscription.status not in LIVE:
        return False
    plan = uow.plans.get(subscription.plan_id)
    assert plan is not None
    if subscription.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.TRIALING):
        reason = "renewal retry succeeded" if subscription.status == "past_due" else "trial paid"
        move_subscription(subscription, SubscriptionStatus.ACTIVE, now=now, reason=reason)
    # After a trial, periods run from the trial's end (the first charge).
    subscription.next_billing_date = next_billing_date_after(
        subscription.trial_ends_at or subscription.start_date,
        plan.interval,
        plan.interval_count,
        due,
    )
    subscription.failed_attempts = 0
    subscription.next_retry_at = None
    subscription.updated_at = now
    return True


def renewal_failed(
    subscription: Subscription,
    due: dt.datetime,
    decline: Decline,
    *,
    now: dt.datetime,
    retry_days: tuple[int, ...],
) -> str | None:
    """Record a failed renewal; returns the notification kind it calls for.

    past_due with a retry scheduled, no retry after a hard decline (until the card changes),
    or expired once the schedule is exhausted. A failure that comes too late to count (the
    period was paid, or the subscription ended) changes nothing and tells nobody.
    """
    if subscription.next_billing_date != due or subscription.status not in LIVE:
        return None
    if subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        move_subscription(
            subscription,
            SubscriptionStatus.PAST_DUE,
            now=now,
            reason=f"renewal failed: {decline.code}",
        )
    subscription.failed_attempts += 1
    subscription.updated_at = now
    if decline.hard:
        subscription.next_retry_at = None
        return "action_required" if decline.code == "authentication_required" else "past_due"
    if subscription.failed_attempts > len(retry_days):
        move_subscription(
            subscription, SubscriptionStatus.EXPIRED, now=now, reason="renewal retries exhausted"
        )
        return "expiry"
    subscription.next_retry_at = due + dt.timedelta(
        days=retry_days[subscription.failed_attempts - 1]
    )
    return "past_due"


def get_subscription(subscription_id: object, *, new_uow: NewUnitOfWork) -> SubscriptionInfo:
    wanted = parse_uuid(subscription_id, "subscription_id")
    with new_uow() as uow:
        subscription = uow.subscriptions.get(wanted)
        if subscription is None:
            raise NotFound(f"No subscription {wanted}.")
        return SubscriptionInfo.of(subscription)


def list_subscriptions(user_id: object, *, new_uow: NewUnitOfWork) -> list[SubscriptionInfo]:
    user = parse_uuid(user_id, "user_id")
    with new_uow() as uow:
        return [SubscriptionInfo.of(s) for s in uow.subscriptions.for_user(user)]


def cancel_subscription(
    subscription_id: object, *, at_period_end: bool, new_uow: NewUnitOfWork, now: dt.datetime
) -> SubscriptionInfo:
    """Cancel now (access ends now) or at the period's end (then it is not renewed).

    Raises:
        IllegalTransition: the subscription has already ended.
    """
    wanted = parse_uuid(subscription_id, "subscription_id")
    with new_uow() as uow:
        subscription = uow.subscriptions.get(wanted, for_update=True)
        if subscription is None:
            raise NotFound(f"No subscription {wanted}.")
        if at_period_end:
            check_subscription_transition(
                SubscriptionStatus(subscription.status), SubscriptionStatus.CANCELLED
            )
            subscription.cancel_at_period_end = True
            subscription.end_date = subscription.next_billing_date
            subscription.updated_at = now
            log.info(
                "subscription will end",
                subscription_id=str(wanted),
                end_date=str(subscription.end_date),
            )
        else:
            move_subscription(
                subscription, SubscriptionStatus.CANCELLED, now=now, reason="cancelled"
            )
        uow.commit()
        return SubscriptionInfo.of(subscription)


def change_payment_method(
    subscription_id: object,
    payment_method: object,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    now: dt.datetime,
) -> SubscriptionInfo:
    """Charge renewals to another card; after a hard decline this schedules a retry now."""
    wanted = parse_uuid(subscription_id, "subscription_id")
    refuse_card_numbers({"payment_method": payment_method})
    if not isinstance(payment_method, str) or not payment_method.startswith("pm_"):
        raise InvalidRequest(
            "payment_method must be a Stripe PaymentMethod id (pm_...).", param="payment_method"
        )
    with new_uow() as uow:
        subscription = uow.subscriptions.get(wanted)
        if subscription is None:
            raise NotFound(f"No subscription {wanted}.")
        if subscription.status not in LIVE:
            raise InvalidRequest("This subscription has ended.", param="subscription_id")
        user, email = subscription.user_id, subscription.customer_email
    # The user's Customer; a trial started without a card may not have made it yet.
    customer = customer_for(user, email, new_uow=new_uow, gateway=gateway, now=now)
    card = gateway.attach_payment_method(
        payment_method,
        customer=customer,
        # Attaching one card to one customer is the same request however often it is retried.
        idempotency_key=f"payment_lib-attach-{customer}-{payment_method}",
    )
    with new_uow() as uow:
        subscription = uow.subscriptions.get(wanted, for_update=True)
        assert subscription is not None
        subscription.payment_method_id = saved_card(uow, subscription.user_id, customer, card).id
        if (
            subscription.status == SubscriptionStatus.PAST_DUE
            and subscription.next_retry_at is None
        ):
            subscription.next_retry_at = now
        subscription.updated_at = now
        uow.commit()
        log.info("subscription payment method changed", subscription_id=str(wanted))
        return SubscriptionInfo.of(subscription)


def saved_card(
    uow: UnitOfWork, user_id: uuid.UUID, customer: str | None, card: CardDetails
) -> PaymentMethod:
    """The card saved with ``customer`` as a PaymentMethod row: the known one, or a new one
    (safe details only)."""
    return uow.payment_methods.by_stripe_id(
        card.stripe_payment_method_id
    ) or uow.payment_methods.add(
        PaymentMethod(
            user_id=user_id,
            stripe_payment_method_id=card.stripe_payment_method_id,
            stripe_customer_id=customer,
            card_brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )
    )


def retry_now(subscription_id: uuid.UUID, *, new_uow: NewUnitOfWork, now: dt.datetime) -> None:
    """Make a past-due subscription's next renewal attempt due now (a billing run then charges
    its current card; the attempt counts like a scheduled one).

    Raises:
        NotFound, InvalidRequest: the subscription is not past due.
    """
    with new_uow() as uow:
        subscription = uow.subscriptions.get(subscription_id, for_update=True)
        if subscription is None:
            raise NotFound(f"No subscription {subscription_id}.")
        if subscription.status != SubscriptionStatus.PAST_DUE:
            raise InvalidRequest(
                f"Only a past due subscription can be retried; this one is {subscription.status}.",
                param="subscription_id",
            )
        subscription.next_retry_at = now
        subscription.updated_at = now
        uow.commit()
    log.info("subscription retry requested", subscription_id=str(subscription_id))
