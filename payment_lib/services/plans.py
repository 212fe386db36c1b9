"""Plans: the prices subscriptions renew at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from payment_lib.db.tables import Plan
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import InvalidRequest
from payment_lib.domain.money import Money, parse_money

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

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "amount": self.price.amount,
            "currency": self.price.currency,
            "interval": self.interval,
            "interval_count": self.interval_count,
            "trial_days": self.trial_days,
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
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InvalidRequest("name must be 1-200 printable characters.", param="name")
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
