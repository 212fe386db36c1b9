"""Plans: the prices subscriptions renew at."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from payment_lib.db.tables import Plan
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import InvalidRequest, NotFound
from payment_lib.domain.money import Money, parse_money
from payment_lib.observability import iso

_PLAN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Stripe allows at most three years between renewals.
MAX_INTERVAL_COUNT = {"month": 36, "year": 3}
# Stripe allows trials of at most two years.
MAX_TRIAL_DAYS = 730

DEMO_PLANS = (
    ("basic-monthly", "Basic (monthly)", "9.99", "usd", "month", 1),
    ("pro-monthly", "Pro (monthly)", "29.00", "usd", "month", 1),
    ("pro-yearly", "Pro (yearly)", "290.00", "usd", "year", 1),
    ("basic-monthly-jpy", "Basic (monthly, yen)", "1000", "jpy", "month", 1),
)


@dataclass(frozen=True)
class PlanInfo:
    """A plan as callers see it."""

    id: str
    name: str
    price: Money
    interval: str
    interval_count: int
    trial_days: int = 0
    archived_at: dt.datetime | None = None  # archived plans sell no new subscriptions

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "amount": self.price.amount,
            "currency": self.price.currency,
            "interval": self.interval,
            "interval_count": self.interval_count,
            "trial_days": self.trial_days,
            "archived_at": iso(self.archived_at),
        }

    @classmethod
    def of(cls, plan: Plan) -> PlanInfo:
        return cls(
            plan.id,
            plan.name,
            Money(plan.amount, plan.currency),
            plan.interval,
            plan.interval_count,
            plan.trial_days,
            archived_at=plan.archived_at,
        )


def validate_plan(
    plan_id: str,
    name: str,
    amount: str,
    currency: str,
    interval: str,
    interval_count: int,
    trial_days: int = 0,
) -> Plan:
    """A new Plan row from raw input, or InvalidRequest naming what is wrong."""
    refuse_card_numbers(
        {
            "plan_id": plan_id,
            "name": name,
            "amount": amount,
            "currency": currency,
            "interval": interval,
        }
    )
    if not isinstance(plan_id, str) or not _PLAN_ID.fullmatch(plan_id):
        raise InvalidRequest(
            "plan_id must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter "
            "or digit.",
            param="plan_id",
        )
    _check_name(name)
    price = parse_money(amount, currency)
    if interval not in MAX_INTERVAL_COUNT:
        raise InvalidRequest("interval must be 'month' or 'year'.", param="interval")
    limit = MAX_INTERVAL_COUNT[interval]
    if (
        isinstance(interval_count, bool)
        or not isinstance(interval_count, int)
        or not (1 <= interval_count <= limit)
    ):
        raise InvalidRequest(
            f"interval_count must be a whole number from 1 to {limit} for {interval}ly plans.",
            param="interval_count",
        )
    if (
        isinstance(trial_days, bool)
        or not isinstance(trial_days, int)
        or not (0 <= trial_days <= MAX_TRIAL_DAYS)
    ):
        raise InvalidRequest(
            f"trial_days must be a whole number from 0 to {MAX_TRIAL_DAYS}.", param="trial_days"
        )
    return Plan(
        id=plan_id,
        name=name.strip(),
        amount=price.minor,
        currency=price.currency,
        interval=interval,
        interval_count=interval_count,
        trial_days=trial_days,
    )


def add_plan(plan: Plan, *, uow: UnitOfWork) -> PlanInfo:
    """Store a validated plan; an existing id is refused."""
    with uow:
        uow.plans.add(plan)
        uow.commit()
        return PlanInfo.of(plan)


def list_plans(*, uow: UnitOfWork) -> list[PlanInfo]:
    with uow:
        return [PlanInfo.of(plan) for plan in uow.plans.list()]


def seed_demo_plans(*, uow: UnitOfWork) -> list[PlanInfo]:
    """Add the demo plans that are missing; returns only those added."""
    with uow:
        added = []
        for values in DEMO_PLANS:
            if uow.plans.get(values[0]) is None:
                added.append(PlanInfo.of(uow.plans.add(validate_plan(*values))))
        uow.commit()
        return added


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InvalidRequest("name must be 1-200 printable characters.", param="name")
    return name.strip()


def update_plan(plan_id: object, *, name: object, uow: UnitOfWork) -> PlanInfo:
    """Rename a plan. Its price and interval stay: subscribers renew at what they bought (a new
    price is a new plan; archive the old one)."""
    refuse_card_numbers({"plan_id": plan_id, "name": name})
    checked = _check_name(name)
    with uow:
        plan = _existing(uow, plan_id)
        plan.name = checked
        uow.commit()
        return PlanInfo.of(plan)


def archive_plan(plan_id: object, *, now: dt.datetime, uow: UnitOfWork) -> PlanInfo:
    """Stop selling a plan: purchases are refused from now on; its live subscriptions go on
    renewing. Archiving an archived plan changes nothing."""
    refuse_card_numbers({"plan_id": plan_id})
    with uow:
        plan = _existing(uow, plan_id)
        if plan.archived_at is None:
            plan.archived_at = now
            uow.commit()
        return PlanInfo.of(plan)


def _existing(uow: UnitOfWork, plan_id: object) -> Plan:
    if not isinstance(plan_id, str) or not _PLAN_ID.fullmatch(plan_id):
        raise InvalidRequest("plan_id must be a plan's id.", param="plan_id")
    plan = uow.plans.get(plan_id)
    if plan is None:
        raise NotFound(f"No plan {plan_id!r}.")
    return plan


def refuse_archived(plan: Plan) -> None:
    """A purchase of an archived plan: InvalidRequest (renewals never ask)."""
    if plan.archived_at is not None:
        raise InvalidRequest(
            f"Plan {plan.id!r} is archived: it sells no new subscriptions.", param="plan_id"
        )
