"""Repositories: the only place that writes SQL for the service layer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from payment_lib.db.tables import Plan
from payment_lib.domain.errors import InvalidRequest


class PlanRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, plan: Plan) -> Plan:
        """Insert a plan; a plan id that exists already is refused."""
        try:
            with self.session.begin_nested():
                self.session.add(plan)
        except IntegrityError:
            raise InvalidRequest(f"Plan {plan.id!r} already exists.", param="plan_id") from None
        return plan

    def get(self, plan_id: str) -> Plan | None:
        return self.session.get(Plan, plan_id)

    def list(self) -> list[Plan]:
        return list(self.session.scalars(select(Plan).order_by(Plan.id)))
