"""The customers repository: each user's Stripe Customer, claimed before Stripe is asked."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from payment_lib.db.repositories import insert_once
from payment_lib.db.tables import Customer


class CustomerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, user_id: uuid.UUID, *, now: dt.datetime) -> Customer:
        """The user's customer row, written pending (no Stripe id) if there was none, and
        locked until the transaction ends."""
        insert_once(
            self.session,
            Customer,
            {"user_id": user_id, "created_at": now, "updated_at": now},
            "user_id",
        )
        query = (
            select(Customer)
            .where(Customer.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        customer = self.session.scalars(query).first()
        assert customer is not None
        return customer

    def stripe_id_of(self, user_id: uuid.UUID) -> str | None:
        query = select(Customer.stripe_customer_id).where(Customer.user_id == user_id)
        return self.session.scalars(query).first()
