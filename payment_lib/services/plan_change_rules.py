"""Which plan changes are allowed, and what one made now costs.

A change keeps the currency and the billing interval (Stripe prices and our periods stay
whole); it moves an active (or trialing) subscription that is not ending, to a plan that is
not archived and that the user does not already hold. Every refusal changes nothing.
"""

from __future__ import annotations

import datetime as dt

from payment_lib.db.tables import Plan, Subscription
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.errors import IllegalTransition, InvalidRequest
from payment_lib.domain.proration import Proration, period_start, prorate
from payment_lib.domain.states import SubscriptionStatus
from payment_lib.services.plan_credit import held_elsewhere


def refuse_plan_change(
    uow: UnitOfWork, subscription: Subscription, current: Plan, target: Plan, now: dt.datetime
) -> None:
    """Raise unless the subscription may move from ``current`` to ``target`` now."""
    status = subscription.status
    if status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        raise IllegalTransition(
            f"A {status} subscription cannot change plan"
            + (" (pay the overdue renewal first)." if status == "past_due" else ".")
        )
    if subscription.cancel_at_period_end:
        raise IllegalTransition(
            "This subscription ends at the end of its period and cannot change plan."
        )
    if subscription.next_billing_date is None or now >= subscription.next_billing_date:
        raise IllegalTransition(
            "This subscription's renewal is due and not billed yet; change its plan after the "
            "billing run."
        )
    if target.id == current.id:
        if subscription.scheduled_plan_id is None:
            raise InvalidRequest(
                f"This subscription is already on plan {current.id!r}.", param="plan_id"
            )
        return
    if target.currency != current.currency:
        raise InvalidRequest(
            f"Plan {target.id!r} is in {target.currency.upper()}, this subscription in "
            f"{current.currency.upper()}: a plan change cannot change the currency.",
            param="plan_id",
        )
    if (target.interval, target.interval_count) != (current.interval, current.interval_count):
        raise InvalidRequest(
            f"Plan {target.id!r} renews every {target.interval_count} {target.interval}(s), "
            f"this subscription every {current.interval_count} {current.interval}(s): a plan "
            "change cannot change the billing interval.",
            param="plan_id",
        )
    if target.archived_at is not None:
        raise InvalidRequest(f"Plan {target.id!r} is archived.", param="plan_id")
    if held_elsewhere(uow, subscription, target.id):
        raise InvalidRequest(
            f"This user is already subscribed to plan {target.id!r}.", param="plan_id"
        )
    if uow.payments.unsettled_for_subscription(subscription.id):
        raise InvalidRequest(
            "A payment of this subscription is still in progress; try again once it settled.",
            param="subscription_id",
        )


def prorate_now(
    subscription: Subscription, current: Plan, target: Plan, now: dt.datetime
) -> Proration:
    """The prorated charge or credit of the change now (a trial has paid nothing: none)."""
    end = subscription.next_billing_date
    assert end is not None
    if subscription.status == SubscriptionStatus.TRIALING:
        return Proration(0, 0)
    start = period_start(subscription.start_date, current.interval, current.interval_count, end)
    return prorate(
        current.amount, target.amount, target.currency, start=start, end=end, now=max(now, start)
    )
