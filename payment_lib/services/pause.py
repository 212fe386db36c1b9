"""Pause and resume a subscription.

While paused a subscription is not renewed (billing selects only active and past-due ones).
It resumes when asked, or by itself at ``pause_until`` (the billing run does that first): its
billing anchor (``start_date``, from which every renewal date is computed) moves forward by
the paused time, and ``next_billing_date`` becomes the same renewal on the moved schedule. An
automatic resume counts the paused time up to ``pause_until``, however late the run comes.
A resume charges nothing by itself: when the moved ``next_billing_date`` is already due, a
period starts, and the ordinary billing run charges it (its key names the period: once).
Each pause and each resume queues one email; both name the pause by its start.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Plan, Subscription
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.billing import billing_date
from payment_lib.domain.errors import InvalidRequest, NotFound
from payment_lib.domain.states import SubscriptionStatus
from payment_lib.observability import iso
from payment_lib.services.notify import notify
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.subscriptions import SubscriptionInfo, move_subscription

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)

BATCH = 100


@dataclass(frozen=True)
class ResumeInfo:
    """A resumed subscription, and the charge of the period its resume started, if any.

    ``charge_error``: the period is due but could not be charged now (Stripe unavailable, ...);
    the next billing run charges it.
    """

    subscription: SubscriptionInfo
    charged: PaymentInfo | None = None
    charge_error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            **self.subscription.to_dict(),
            "charged": self.charged.to_dict() if self.charged else None,
            "charge_error": self.charge_error,
        }


def pause_subscription(
    subscription_id: object,
    until: object,
    *,
    new_uow: NewUnitOfWork,
    now: dt.datetime,
    metrics: Metrics,
) -> SubscriptionInfo:
    """Pause an active subscription now, until ``until`` (an aware datetime in the future) or,
    without it, until resumed.

    Raises:
        InvalidRequest: a bad ``until``; the subscription is past due, a renewal of it is
            still being charged, or it ends at its period's end. IllegalTransition: it is not
            active (already paused, trialing, ended). NotFound. Nothing changes on any error.
    """
    wanted = parse_uuid(subscription_id, "subscription_id")
    end = _until(until, now)
    with new_uow() as uow:
        subscription = _get(uow, wanted)
        if subscription.status == SubscriptionStatus.PAST_DUE:
            raise InvalidRequest(
                "A past due subscription cannot be paused: its renewal must be paid first "
                "(change its card, or retry it).",
                param="subscription_id",
            )
        if uow.payments.unsettled_for_subscription(subscription.id):
            raise InvalidRequest(
                "A renewal of this subscription is still being charged (its outcome is not "
                "known yet): try again once it is settled.",
                param="subscription_id",
            )
        if subscription.cancel_at_period_end:
            raise InvalidRequest(
                "This subscription ends at the end of its period; it cannot be paused.",
                param="subscription_id",
            )
        move_subscription(subscription, SubscriptionStatus.PAUSED, now=now, reason="paused")
        subscription.paused_at, subscription.pause_until = now, end
        notify(
            uow,
            "subscription_paused",
            recipient=subscription.customer_email,
            about=f"{subscription.id}:{now.isoformat()}",
            payload={
                "subscription_id": str(subscription.id),
                "plan_id": subscription.plan_id,
                "paused_at": f"{now:%Y-%m-%d}",
                "until": f"until {end:%Y-%m-%d %H:%M} UTC" if end else "until you resume it",
            },
            now=now,
        )
        uow.commit()
        metrics.subscription_pauses_total.labels(action="paused").inc()
        return SubscriptionInfo.of(subscription)


def resume_subscription(
    subscription_id: object, *, new_uow: NewUnitOfWork, now: dt.datetime, metrics: Metrics
) -> SubscriptionInfo:
    """Resume a paused subscription now (the paused time ends now). It is not charged here:
    see ``next_billing_date`` (due already: a period starts, for billing to charge).

    Raises:
        IllegalTransition: it is not paused; NotFound. Nothing changes on any error.
    """
    wanted = parse_uuid(subscription_id, "subscription_id")
    with new_uow() as uow:
        subscription = _get(uow, wanted)
        _resume(uow, subscription, _plan(uow, subscription), at=now, now=now, reason="resumed")
        uow.commit()
    metrics.subscription_pauses_total.labels(action="resumed").inc()
    return SubscriptionInfo.of(subscription)


def resume_paused(
    now: dt.datetime,
    *,
    new_uow: NewUnitOfWork,
    metrics: Metrics,
    dry_run: bool = False,
    subscription_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> tuple[list[uuid.UUID], list[dict[str, str | None]]]:
    """Resume every subscription whose pause ended by ``now`` (only one, or one user's, when
    given): the ids resumed. A ``dry_run`` changes nothing and returns the plan instead."""
    scope = {"subscription_id": subscription_id, "user_id": user_id}
    if dry_run:
        with new_uow() as uow:
            ended = uow.pauses.ended(now, limit=10_000, lock=False, **scope)
            return [], [_planned(s) for s in ended]
    resumed: list[uuid.UUID] = []
    while True:
        with new_uow() as uow:
            batch = uow.pauses.ended(now, limit=BATCH, lock=True, **scope)
            # The session holds rows weakly: keep each plan for the batch, read once.
            plans = {s.plan_id: _plan(uow, s) for s in batch}
            for subscription in batch:
                assert subscription.pause_until is not None
                at, plan = subscription.pause_until, plans[subscription.plan_id]
                _resume(uow, subscription, plan, at=at, now=now, reason="pause ended")
                resumed.append(subscription.id)
            uow.commit()
        metrics.subscription_pauses_total.labels(action="resumed").inc(len(batch))
        if len(batch) < BATCH:
            return resumed, []


def _resume(
    uow: UnitOfWork,
    subscription: Subscription,
    plan: Plan,
    *,
    at: dt.datetime,
    now: dt.datetime,
    reason: str,
) -> None:
    """Move the subscription to active, its anchor and next billing date forward by the time
    paused until ``at``; queue the email."""
    move_subscription(subscription, SubscriptionStatus.ACTIVE, now=now, reason=reason)
    paused_at = subscription.paused_at or at
    moved = max(at - paused_at, dt.timedelta(0))
    subscription.start_date, subscription.next_billing_date = _moved_schedule(
        subscription, plan, moved
    )
    if subscription.cancel_at_period_end:
        subscription.end_date = subscription.next_billing_date
    subscription.paused_at = subscription.pause_until = None
    log.info(
        "subscription resumed",
        subscription_id=str(subscription.id),
        paused_seconds=int(moved.total_seconds()),
        next_billing_date=iso(subscription.next_billing_date),
    )
    notify(
        uow,
        "subscription_resumed",
        recipient=subscription.customer_email,
        about=f"{subscription.id}:{paused_at.isoformat()}",
        payload={
            "subscription_id": str(subscription.id),
            "plan_id": subscription.plan_id,
            "next_billing_date": f"{subscription.next_billing_date:%Y-%m-%d}",
        },
        now=now,
    )


def _moved_schedule(
    subscription: Subscription, plan: Plan, by: dt.timedelta
) -> tuple[dt.datetime, dt.datetime | None]:
    """The anchor moved ``by``, and the next billing date: the same renewal (the n-th) on the
    moved schedule; a date off the schedule simply moves ``by``."""
    start, due = subscription.start_date, subscription.next_billing_date
    if due is None:
        return start + by, None
    n = 1
    while (date := billing_date(start, plan.interval, plan.interval_count, n)) < due:
        n += 1
    if date != due:
        return start + by, due + by
    return start + by, billing_date(start + by, plan.interval, plan.interval_count, n)


def _until(until: object, now: dt.datetime) -> dt.datetime | None:
    if until is None:
        return None
    if not isinstance(until, dt.datetime) or until.tzinfo is None:
        raise InvalidRequest(
            "until must be an aware datetime (UTC), e.g. 2027-03-01T00:00:00+00:00.",
            param="until",
        )
    if until <= now:
        raise InvalidRequest(
            f"until must be in the future (after {now:%Y-%m-%d %H:%M:%S} UTC).", param="until"
        )
    return until.astimezone(dt.UTC)


def _plan(uow: UnitOfWork, subscription: Subscription) -> Plan:
    plan = uow.plans.get(subscription.plan_id)
    assert plan is not None
    return plan


def _get(uow: UnitOfWork, subscription_id: uuid.UUID) -> Subscription:
    subscription = uow.subscriptions.get(subscription_id, for_update=True)
    if subscription is None:
        raise NotFound(f"No subscription {subscription_id}.")
    return subscription


def _planned(subscription: Subscription) -> dict[str, str | None]:
    return {
        "subscription_id": str(subscription.id),
        "user_id": str(subscription.user_id),
        "action": "resume",
        "amount": None,
        "currency": None,
        "due": iso(subscription.pause_until),
    }
