"""Trials: a subscription that starts without a charge, for a plan's ``trial_days``.

With a card, the card is saved to the user's Stripe Customer and verified for off-session
charges by a SetupIntent (no charge); the first charge is the renewal billing runs make when
the trial ends (``next_billing_date`` is the trial's end). Without a card, the trial ends at
its end, with no charge, unless a card is added first (``change_payment_method``).

1. Check (under the user's lock): the plan has trial days, the user has no live subscription
   to it and never had its trial.
2. With a card: the user's Customer, then one SetupIntent whose idempotency key is derived
   from our ids (user, plan) and the card, never from the time, so a retry or a resumed
   attempt gets the same SetupIntent back. A decline, or a card asking for authentication,
   is refused: nothing is stored.
3. Store the card's safe details and the ``trialing`` subscription in one transaction (the
   checks again: a concurrent start loses to the unique index).

A billing pass also queues the trial-ending reminder ``reminder_days`` before each trial
ends, once per trial (its dedupe key names the subscription and the trial's end).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Plan, Subscription
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.declines import explain_decline
from payment_lib.domain.errors import InvalidRequest
from payment_lib.domain.money import format_amount
from payment_lib.domain.states import SubscriptionStatus
from payment_lib.observability import trace
from payment_lib.services.customers import customer_for
from payment_lib.services.notify import notify
from payment_lib.services.payment_requests import check_email, parse_uuid
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.subscriptions import (
    SubscriptionInfo,
    move_subscription,
    refuse_second_purchase,
    saved_card,
)
from payment_lib.stripe_objects import CardDetails, IntentOutcome

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)


def start_trial(
    user_id: object,
    plan_id: object,
    payment_method: object = None,
    customer_email: object = None,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    now: dt.datetime,
    metrics: Metrics | None = None,
) -> SubscriptionInfo:
    """Start the plan's trial for the user, with a card saved for the first charge or without.

    Raises:
        InvalidRequest: bad input; no such plan, or one without trial days; the user is
            subscribed to it already or had its trial; the card declined or asks for
            authentication (``param="payment_method"``). Nothing is stored.
        ProviderUnavailable: Stripe could not be reached; nothing is stored, and the same
            call later gets the same SetupIntent back.
    """
    refuse_card_numbers(
        {
            "user_id": user_id,
            "plan_id": plan_id,
            "payment_method": payment_method,
            "customer_email": customer_email,
        }
    )
    user = parse_uuid(user_id, "user_id")
    if not isinstance(plan_id, str) or not plan_id:
        raise InvalidRequest("plan_id must be a plan's id.", param="plan_id")
    if payment_method is not None and (
        not isinstance(payment_method, str) or not payment_method.startswith("pm_")
    ):
        raise InvalidRequest(
            "payment_method must be a Stripe PaymentMethod id (pm_...), or none.",
            param="payment_method",
        )
    email = check_email(customer_email)
    with trace(), structlog.contextvars.bound_contextvars(user_id=str(user), plan_id=plan_id):
        with new_uow() as uow:
            uow.locks.user(user)
            _check_trial(uow, user, plan_id)
        card = customer = None
        if payment_method is not None:
            customer = customer_for(user, email, new_uow=new_uow, gateway=gateway, now=now)
            digest = hashlib.sha256(payment_method.encode()).hexdigest()[:24]
            outcome = gateway.set_up_card(
                customer=customer,
                payment_method=payment_method,
                idempotency_key=f"payment_lib-trial-{user}-{plan_id}-{digest}",
                metadata={"user_id": str(user), "plan_id": plan_id},
            )
            card = _set_up_card(outcome, metrics)
        with new_uow() as uow:
            uow.locks.user(user)
            plan = _check_trial(uow, user, plan_id)
            subscription = _trialing(uow, user, plan, email, now=now, card=card, customer=customer)
            uow.commit()
        log.info(
            "trial started",
            subscription_id=str(subscription.id),
            trial_ends_at=subscription.trial_ends_at.isoformat()
            if subscription.trial_ends_at
            else None,
            with_card=card is not None,
        )
        if metrics is not None:
            metrics.trials_total.labels(outcome="with_card" if card else "without_card").inc()
        return SubscriptionInfo.of(subscription)


def _check_trial(uow: UnitOfWork, user: uuid.UUID, plan_id: str) -> Plan:
    plan = uow.plans.get(plan_id)
    if plan is None:
        raise InvalidRequest(f"No plan {plan_id!r}.", param="plan_id")
    if plan.trial_days <= 0:
        raise InvalidRequest(
            f"Plan {plan_id!r} has no trial: buy it with a payment instead.", param="plan_id"
        )
    refuse_second_purchase(uow, user, plan_id)
    if any(
        s.plan_id == plan_id and s.trial_ends_at is not None
        for s in uow.subscriptions.for_user(user)
    ):
        raise InvalidRequest(
            f"This user has had the trial of plan {plan_id!r} already: buy it with a payment.",
            param="plan_id",
        )
    return plan


def _set_up_card(outcome: IntentOutcome, metrics: Metrics | None) -> CardDetails:
    """The card a SetupIntent saved; InvalidRequest when it did not."""
    if outcome.status == "succeeded" and outcome.card is not None:
        return outcome.card
    if metrics is not None:
        metrics.trials_total.labels(outcome="card_refused").inc()
    log.warning(
        "trial card not set up",
        setup_intent=outcome.intent_id,
        status=outcome.status,
        stripe_code=outcome.error_code,
        decline_code=outcome.decline_code,
        stripe_request_id=outcome.request_id,
    )
    if outcome.status == "requires_action":
        raise InvalidRequest(
            "This card asks for authentication (3-D Secure) before it can be saved, which "
            "starting a trial cannot do: use another card, or start the trial without a card "
            "and add one later. No trial was started.",
            param="payment_method",
        )
    decline = explain_decline(outcome.error_code, outcome.decline_code)
    raise InvalidRequest(
        f"{decline.message} ({decline.code}): the card could not be saved, so no trial was "
        "started.",
        param="payment_method",
    )


def _trialing(
    uow: UnitOfWork,
    user: uuid.UUID,
    plan: Plan,
    email: str | None,
    *,
    now: dt.datetime,
    card: CardDetails | None,
    customer: str | None,
) -> Subscription:
    ends = now + dt.timedelta(days=plan.trial_days)
    method = saved_card(uow, user, customer, card) if card is not None else None
    subscription = Subscription(
        user_id=user,
        customer_email=email,
        plan_id=plan.id,
        status=SubscriptionStatus.TRIALING,
        payment_method_id=method.id if method is not None else None,
        start_date=now,
        trial_ends_at=ends,
        next_billing_date=ends,
        created_at=now,
        updated_at=now,
    )
    if not uow.subscriptions.add(subscription):
        raise InvalidRequest(
            f"This user is already subscribed to plan {plan.id!r}.", param="plan_id"
        )
    return subscription


def trial_without_card(subscription: Subscription) -> bool:
    """A trial with no card to charge at its end: it ends instead."""
    return (
        subscription.status == SubscriptionStatus.TRIALING
        and subscription.payment_method_id is None
    )


def end_trial(uow: UnitOfWork, subscription: Subscription, *, now: dt.datetime) -> bool:
    """End a card-less trial at its end (expired, nothing charged), say so by email, and
    commit; False, changing nothing, when a card was added meanwhile (it is charged)."""
    if not trial_without_card(subscription):
        return False
    move_subscription(
        subscription, SubscriptionStatus.EXPIRED, now=now, reason="trial ended without a card"
    )
    notify(
        uow,
        "trial_ended",
        recipient=subscription.customer_email,
        about=subscription.id,
        payload={"subscription_id": str(subscription.id), "plan_id": subscription.plan_id},
        now=now,
    )
    uow.commit()
    return True


def queue_trial_reminders(
    now: dt.datetime,
    *,
    new_uow: NewUnitOfWork,
    reminder_days: int,
    subscription_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> int:
    """Queue the ``trial_ending`` email for every trial that ends within ``reminder_days`` of
    ``now``; each trial's reminder once, however often this runs. Returns how many were
    queued now."""
    if reminder_days <= 0:
        return 0
    queued = 0
    with new_uow() as uow:
        # (A run at a far-off time, the year 9999, must not overflow.)
        latest = dt.datetime.max.replace(tzinfo=dt.UTC) - now
        ending = uow.subscriptions.trials_ending(
            now + min(dt.timedelta(days=reminder_days), latest),
            after=now,
            subscription_id=subscription_id,
            user_id=user_id,
        )
        for subscription in ending:
            assert subscription.trial_ends_at is not None
            queued += notify(
                uow,
                "trial_ending",
                recipient=subscription.customer_email,
                about=f"{subscription.id}:{subscription.trial_ends_at.isoformat()}",
                payload=_reminder(uow, subscription),
                now=now,
            )
        uow.commit()
    if queued:
        log.info("trial reminders queued", count=queued)
    return queued


def _reminder(uow: UnitOfWork, subscription: Subscription) -> dict[str, object]:
    plan = uow.plans.get(subscription.plan_id)
    assert plan is not None and subscription.trial_ends_at is not None
    amount = format_amount(plan.amount, plan.currency)
    next_step = (
        f"Unless you cancel before then, we will charge {amount} {plan.currency.upper()} to "
        "your saved card."
        if subscription.payment_method_id
        else "No card is saved: add a card before then to keep your subscription; otherwise "
        "it ends and nothing is charged."
    )
    return {
        "subscription_id": str(subscription.id),
        "plan_id": plan.id,
        "amount": amount,
        "currency": plan.currency,
        "trial_ends_at": subscription.trial_ends_at.isoformat(),
        "trial_ends_on": subscription.trial_ends_at.date().isoformat(),
        "next_step": next_step,
    }
