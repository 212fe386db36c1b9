"""Billing runs: charge every due subscription off-session, once per period.

A renewal is an ordinary payment whose idempotency key names the subscription, the period's
due date and the attempt number, so overlapping or repeated runs (after a crash, on several
workers) reach the same payment row and the same PaymentIntent: one charge per attempt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.errors import PaymentError
from payment_lib.domain.money import Money
from payment_lib.domain.states import SubscriptionStatus
from payment_lib.observability import trace
from payment_lib.services.notify import notify
from payment_lib.services.pause import resume_paused
from payment_lib.services.payment_requests import PaymentRequest
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.payments import Renewal, process_payment
from payment_lib.services.plan_credit import renew_from_credit, renewal_plan
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.subscriptions import move_subscription
from payment_lib.services.trials import end_trial, trial_without_card

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)


@dataclass
class BillingReport:
    """What one billing run did."""

    now: dt.datetime
    dry_run: bool = False
    charged: list[PaymentInfo] = field(default_factory=list)
    ended: list[uuid.UUID] = field(default_factory=list)
    resumed: list[uuid.UUID] = field(default_factory=list)  # their pause ended
    # Subscriptions that could not be billed this time (Stripe unavailable, ...): the next
    # run tries them again with the same idempotency key.
    errors: list[dict[str, str]] = field(default_factory=list)
    # A dry run's plan: what a real run would do, subscription by subscription.
    planned: list[dict[str, str | None]] = field(default_factory=list)
    trial_reminders: int = 0  # trial-ending emails queued

    def to_dict(self) -> dict[str, object]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "charged": [p.to_dict() for p in self.charged],
            "ended": [str(s) for s in self.ended],
            "resumed": [str(s) for s in self.resumed],
            "errors": self.errors,
            "planned": self.planned,
            "trial_reminders": self.trial_reminders,
        }


@dataclass(frozen=True)
class BillingScope:
    """Which subscriptions a run may touch: one, one user's, or (both None) all."""

    subscription_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class _Due:
    subscription_id: uuid.UUID
    user_id: uuid.UUID
    action: str  # renew, retry, cancel (at the period's end) or expire
    request: PaymentRequest | None  # None: the subscription ends instead of renewing
    renewal: Renewal | None
    ending: SubscriptionStatus | None = None
    plan_id: str | None = None  # a renewal the credit pays: no request


def run_billing(
    now: dt.datetime,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    metrics: Metrics,
    retry_days: tuple[int, ...],
    clock: Clock,
    limit: int = 500,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
    scope: BillingScope | None = None,
) -> BillingReport:
    """Resume the subscriptions whose pause ended, then renew, retry or end every
    subscription due at ``now``, ``limit`` at a time.

    ``now`` decides what is due; ``clock`` tells when things happen (a payment's creation time
    is never a run's simulated time). ``progress(done, total)`` is called after each
    subscription (a terminal shows a bar). A ``dry_run`` plans and changes nothing: its
    report lists what a real run would do. ``scope`` limits the run to one subscription or
    one user's.
    """
    report = BillingReport(now=now, dry_run=dry_run)
    scope = scope or BillingScope()
    grace = dt.timedelta(days=max(retry_days, default=0))
    with trace():
        report.resumed, report.planned = resume_paused(  # first: a resume may start a period
            now,
            new_uow=new_uow,
            metrics=metrics,
            dry_run=dry_run,
            subscription_id=scope.subscription_id,
            user_id=scope.user_id,
        )
        with new_uow() as uow:
            total = uow.subscriptions.count_due(
                now, grace=grace, subscription_id=scope.subscription_id, user_id=scope.user_id
            )
        log.info("billing run", due=total, now=now.isoformat())
        done, after = 0, None
        while True:
            work, after = _plan(
                now, new_uow=new_uow, grace=grace, scope=scope, after=after, limit=limit
            )
            if after is None:
                return report
            for item in work:
                if dry_run:
                    report.planned.append(_planned(item))
                    continue
                _bill(
                    item,
                    report,
                    gateway=gateway,
                    metrics=metrics,
                    retry_days=retry_days,
                    new_uow=new_uow,
                    clock=clock,
                )
                done += 1
                if progress is not None:
                    progress(done, max(total, done))


def _bill(
    item: _Due,
    report: BillingReport,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    metrics: Metrics,
    retry_days: tuple[int, ...],
    clock: Clock,
) -> None:
    """Renew, retry or end one subscription; what happened goes into ``report``."""
    if item.ending is not None:
        if _end(item.subscription_id, item.ending, now=report.now, new_uow=new_uow):
            report.ended.append(item.subscription_id)
        return
    if item.request is None:  # the credit pays this period
        assert item.renewal is not None and item.plan_id is not None
        if renew_from_credit(
            item.subscription_id, item.renewal.due, item.plan_id, new_uow=new_uow, now=clock()
        ):
            metrics.renewals_total.labels(outcome="credit").inc()
        return
    try:
        result = process_payment(
            item.request,
            new_uow=new_uow,
            gateway=gateway,
            clock=clock,
            metrics=metrics,
            rate_limit=None,
            retry_days=retry_days,
            renewal=item.renewal,
        )
    except PaymentError as error:  # this one waits for the next run; go on
        log.error(
            "renewal not attempted",
            subscription_id=str(item.subscription_id),
            code=error.code,
            error=error.message,
        )
        report.errors.append(
            {
                "subscription_id": str(item.subscription_id),
                "code": error.code,
                "message": error.message,
            }
        )
        metrics.renewals_total.labels(outcome="error").inc()
        return
    metrics.renewals_total.labels(outcome=result.status).inc()
    if not result.replayed:
        report.charged.append(result)


def _plan(
    now: dt.datetime,
    *,
    new_uow: NewUnitOfWork,
    grace: dt.timedelta,
    scope: BillingScope,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[list[_Due], uuid.UUID | None]:
    """Decide, from one consistent read, what each subscription of the next batch needs; and
    the last id of the batch (None: nothing more is due)."""
    work = []
    with new_uow() as uow:
        batch = uow.subscriptions.due(
            now,
            grace=grace,
            after=after,
            limit=limit,
            subscription_id=scope.subscription_id,
            user_id=scope.user_id,
        )
        for subscription in batch:
            due = subscription.next_billing_date
            assert due is not None
            if subscription.cancel_at_period_end:
                work.append(
                    _Due(
                        subscription.id,
                        subscription.user_id,
                        "cancel",
                        None,
                        None,
                        SubscriptionStatus.CANCELLED,
                    )
                )
                continue
            if trial_without_card(subscription):  # its trial is over: it ends, no charge
                work.append(
                    _Due(
                        subscription.id,
                        subscription.user_id,
                        "end_trial",
                        None,
                        None,
                        SubscriptionStatus.EXPIRED,
                    )
                )
                continue
            if subscription.status == SubscriptionStatus.PAST_DUE and (
                subscription.next_retry_at is None
            ):  # a hard decline nobody fixed in time
                work.append(
                    _Due(
                        subscription.id,
                        subscription.user_id,
                        "expire",
                        None,
                        None,
                        SubscriptionStatus.EXPIRED,
                    )
                )
                continue
            priced = renewal_plan(uow, subscription)  # after credit; a scheduled plan
            method = (
                uow.payment_methods.get(subscription.payment_method_id)
                if subscription.payment_method_id
                else None
            )
            if priced is None or method is None or method.stripe_customer_id is None:
                log.error(
                    "subscription cannot be renewed: no plan or saved card",
                    subscription_id=str(subscription.id),
                )
                continue
            plan, charge = priced
            renewal = Renewal(subscription.id, method.stripe_customer_id, due)
            action = "retry" if subscription.status == SubscriptionStatus.PAST_DUE else "renew"
            if charge == 0:  # the credit pays it
                free = _Due(subscription.id, subscription.user_id, action, None, renewal)
                work.append(dataclasses.replace(free, plan_id=plan.id))
                continue
            attempt = subscription.failed_attempts + 1
            key = f"payment_lib-renewal-{subscription.id}-{due.isoformat()}-{attempt}"
            if _earlier_attempt_unsettled(uow, subscription.id, key):
                continue
            request = PaymentRequest(
                user_id=subscription.user_id,
                money=Money(charge, plan.currency),
                payment_method=method.stripe_payment_method_id,
                idempotency_key=key,
                plan_id=plan.id,
                customer_email=subscription.customer_email,
                off_session=True,
            )
            work.append(_Due(subscription.id, subscription.user_id, action, request, renewal))
    return work, batch[-1].id if batch else None


def _earlier_attempt_unsettled(uow: UnitOfWork, subscription_id: uuid.UUID, key: str) -> bool:
    """Whether an earlier renewal attempt's outcome is still unknown: it may have charged, so
    no new attempt is made until recovery has settled it from Stripe (this attempt's own
    payment, left pending by a crash, is resumed instead)."""
    waiting = [
        p.id
        for p in uow.payments.unsettled_for_subscription(subscription_id)
        if p.idempotency_key != key
    ]
    if waiting:
        log.warning(
            "renewal waits for an earlier attempt to settle",
            subscription_id=str(subscription_id),
            payment_ids=[str(p) for p in waiting],
        )
    return bool(waiting)


def _end(
    subscription_id: uuid.UUID,
    target: SubscriptionStatus,
    *,
    now: dt.datetime,
    new_uow: NewUnitOfWork,
) -> bool:
    with new_uow() as uow:
        subscription = uow.subscriptions.get(subscription_id, for_update=True)
        if subscription is None or subscription.status not in ("trialing", "active", "past_due"):
            return False  # another run got here first
        if subscription.status == "trialing" and target == SubscriptionStatus.EXPIRED:
            return end_trial(uow, subscription, now=now)  # False: a card came in time
        move_subscription(subscription, target, now=now, reason="period ended")
        if target == SubscriptionStatus.EXPIRED:
            notify(
                uow,
                "expiry",
                recipient=subscription.customer_email,
                about=subscription.id,
                payload={"subscription_id": str(subscription.id), "plan_id": subscription.plan_id},
                now=now,
            )
        uow.commit()
        return True


def _planned(item: _Due) -> dict[str, str | None]:
    """What a real run would do with ``item``, for a dry run's report."""
    money = item.request.money if item.request is not None else None
    return {
        "subscription_id": str(item.subscription_id),
        "user_id": str(item.user_id),
        "action": item.action,
        "amount": money.amount if money else None,
        "currency": money.currency if money else None,
        "due": item.renewal.due.isoformat() if item.renewal else None,
    }
