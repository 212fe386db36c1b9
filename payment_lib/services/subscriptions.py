"""Subscriptions: one state machine, billing dates in one place, renewals."""

from __future__ import annotations

import datetime as dt

import structlog

from payment_lib.db.tables import Subscription
from payment_lib.domain.states import SubscriptionStatus, check_subscription_transition

log = structlog.get_logger(__name__)


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
    log.info(
        "subscription changed",
        subscription_id=str(subscription.id),
        old_status=previous,
        new_status=target.value,
        reason=reason,
    )
