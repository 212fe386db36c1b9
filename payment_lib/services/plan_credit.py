"""Plan changes and credit inside other transactions: switching a subscription's plan, what a
renewal charges after credit (and at which plan), and using the credit once it is paid.

Billing and payment outcomes call these hooks; the use case itself (deciding, charging the
prorated difference) is ``services/plan_changes.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid

import structlog

from payment_lib.db.tables import Payment, Plan, Subscription
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.money import format_amount
from payment_lib.domain.proration import renewal_charge
from payment_lib.observability import iso
from payment_lib.services.notify import notify
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.subscriptions import LIVE, renewal_succeeded

log = structlog.get_logger(__name__)


def switch_plan(
    uow: UnitOfWork,
    subscription: Subscription,
    to_plan: Plan,
    *,
    charged: int,
    credit: int,
    about: object,
    now: dt.datetime,
) -> None:
    """Move ``subscription`` to ``to_plan`` now (any scheduled change is dropped), add
    ``credit`` (negative: owed) and queue the one ``plan_changed`` email about ``about``."""
    from_plan = subscription.plan_id
    subscription.plan_id = to_plan.id
    subscription.scheduled_plan_id = None
    subscription.credit += credit
    subscription.updated_at = now
    log.info(
        "subscription plan changed",
        subscription_id=str(subscription.id),
        from_plan_id=from_plan,
        to_plan_id=to_plan.id,
        charged=charged,
        credit=credit,
    )
    tell_plan_changed(
        uow,
        subscription,
        from_plan,
        to_plan,
        charged=charged,
        credit=credit,
        when=now,
        about=about,
        now=now,
    )


def tell_plan_changed(
    uow: UnitOfWork,
    subscription: Subscription,
    from_plan_id: str,
    to_plan: Plan,
    *,
    charged: int,
    credit: int,
    when: dt.datetime | None,
    about: object,
    now: dt.datetime,
) -> None:
    """Queue the ``plan_changed`` email (once per ``about``)."""
    notify(
        uow,
        "plan_changed",
        recipient=subscription.customer_email,
        about=about,
        payload={
            "subscription_id": str(subscription.id),
            "from_plan_id": from_plan_id,
            "to_plan_id": to_plan.id,
            "effective_at": iso(when),
            "charged": format_amount(charged, to_plan.currency),
            "credit": format_amount(subscription.credit, to_plan.currency),
            "currency": to_plan.currency,
            "amount": format_amount(to_plan.amount, to_plan.currency),
        },
        now=now,
    )


def plan_change_paid(
    uow: UnitOfWork, payment: Payment, subscription: Subscription, *, now: dt.datetime
) -> None:
    """A plan change's prorated charge succeeded: switch the plan, in the payment's
    transaction, unless the subscription moved on meanwhile (then the charge paid for nothing:
    marked, and the worker's refund pass gives it back, as for a renewal paid for nothing)."""
    change = (payment.details or {}).get("plan_change") or {}
    to_plan = uow.plans.get(str(change.get("to_plan_id")))
    if (
        to_plan is None
        or subscription.status not in LIVE
        or subscription.plan_id != change.get("from_plan_id")
        or iso(subscription.next_billing_date) != change.get("period_end")
        or held_elsewhere(uow, subscription, to_plan.id)
    ):
        payment.paid_for_nothing_at = now
        log.error(
            "plan change paid but not applied: to be refunded",
            payment_id=str(payment.id),
            subscription_id=str(subscription.id),
            plan_id=subscription.plan_id,
            change=change,
        )
        return
    switch_plan(
        uow, subscription, to_plan, charged=payment.amount, credit=0, about=payment.id, now=now
    )


def renewal_plan(uow: UnitOfWork, subscription: Subscription) -> tuple[Plan, int] | None:
    """The plan a renewal pays for (the scheduled one, when a change waits for this period's
    end) and what it charges after the subscription's credit; None without a plan."""
    wanted = subscription.scheduled_plan_id
    if wanted is not None and held_elsewhere(uow, subscription, wanted):
        log.warning(
            "scheduled plan not applied: the user holds it in another subscription",
            subscription_id=str(subscription.id),
            scheduled_plan_id=wanted,
        )
        wanted = None
    plan = uow.plans.get(wanted or subscription.plan_id)
    if plan is None:
        return None
    charge, _ = renewal_charge(plan.amount, subscription.credit, plan.currency)
    return plan, charge


def renewal_paid(uow: UnitOfWork, subscription: Subscription, plan_id: str, paid: int) -> None:
    """A renewal for ``plan_id`` was paid with ``paid`` (0: by credit alone): the credit it
    used is spent, and a scheduled plan it paid for is now the subscription's plan."""
    plan = uow.plans.get(plan_id)
    if plan is None:
        return
    subscription.credit -= plan.amount - paid
    if subscription.plan_id != plan.id and not held_elsewhere(uow, subscription, plan.id):
        log.info(
            "scheduled plan change applied",
            subscription_id=str(subscription.id),
            from_plan_id=subscription.plan_id,
            to_plan_id=plan.id,
        )
        subscription.plan_id = plan.id
    if subscription.scheduled_plan_id == plan.id:
        subscription.scheduled_plan_id = None


def held_elsewhere(uow: UnitOfWork, subscription: Subscription, plan_id: str) -> bool:
    """Whether the subscription's user holds ``plan_id`` in another live subscription (one
    live subscription per user and plan)."""
    return any(
        other.id != subscription.id and other.plan_id == plan_id and other.status in LIVE
        for other in uow.subscriptions.for_user(subscription.user_id)
    )


def renew_from_credit(
    subscription_id: uuid.UUID,
    due: dt.datetime,
    plan_id: str,
    *,
    new_uow: NewUnitOfWork,
    now: dt.datetime,
) -> bool:
    """Renew for the period due at ``due`` with no charge: the credit covers the price (or
    what is left is below Stripe's minimum, owed at the next renewal). False when another run
    renewed it first, or the credit changed since the run planned it."""
    with new_uow() as uow:
        subscription = uow.subscriptions.get(subscription_id, for_update=True)
        plan = uow.plans.get(plan_id)
        if subscription is None or plan is None:
            return False
        if renewal_charge(plan.amount, subscription.credit, plan.currency)[0]:
            return False
        if not renewal_succeeded(uow, subscription, due, now=now):
            return False
        renewal_paid(uow, subscription, plan_id, 0)
        uow.commit()
        log.info(
            "renewed from credit",
            subscription_id=str(subscription_id),
            plan_id=plan_id,
            credit_left=subscription.credit,
        )
        return True
