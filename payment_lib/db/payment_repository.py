"""The payments repository: payments by id, key and PaymentIntent, claims for recovery, and
the keyset pages reconcile walks."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Executable,
    bindparam,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from payment_lib.db.payment_writes import PAYMENTS, insert_pending
from payment_lib.db.tables import Payment
from payment_lib.domain.states import UNSETTLED


@functools.cache
def _update_if_status(names: tuple[str, ...]) -> Executable:
    """UPDATE payments SET <names> WHERE id = :w_id AND status = :w_status, with bound
    parameters ``v_<name>``."""
    table = PAYMENTS
    return (
        update(table)
        .where(table.c.id == bindparam("w_id"), table.c.status == bindparam("w_status"))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names})
    )


class PaymentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def insert_new(
        self,
        payment: Payment,
        *,
        attempts_since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> bool:
        """Insert ``payment`` (a transient row with every column set) in one statement; False,
        adding nothing, when its idempotency key is taken or, with ``limit``, when its user made
        ``limit`` attempts (kind ``payment``) since ``attempts_since``.

        ``payment_writes.insert_pending`` in this unit of work: run it under the user's lock.
        """
        values = {column.key: getattr(payment, column.key) for column in PAYMENTS.columns}
        return insert_pending(
            self.session.connection(), values, attempts_since=attempts_since, limit=limit
        )

    def update_if_status(
        self, payment_id: uuid.UUID, status: str, changes: Mapping[str, Any]
    ) -> bool:
        """Write ``changes`` to the payment if it is still in ``status``, in one statement;
        False, changing nothing, when it is not (something else recorded it meanwhile)."""
        statement = _update_if_status(tuple(sorted(changes)))
        params = {f"v_{name}": value for name, value in changes.items()}
        result = self.session.connection().execute(
            statement, {**params, "w_id": payment_id, "w_status": status}
        )
        return result.rowcount == 1

    def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        query = select(Payment).where(Payment.id == payment_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def by_idempotency_key(self, key: str) -> Payment | None:
        return self.session.scalars(select(Payment).where(Payment.idempotency_key == key)).first()

    def by_intent(self, intent_id: str, *, for_update: bool = False) -> Payment | None:
        query = select(Payment).where(Payment.stripe_transaction_id == intent_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def for_user(self, user_id: uuid.UUID, *, limit: int = 100) -> list[Payment]:
        query = (
            select(Payment)
            .where(Payment.user_id == user_id)
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def attempts_since(self, user_id: uuid.UUID, since: dt.datetime) -> list[dt.datetime]:
        """When the user made their own attempts (not renewals) since ``since``, oldest first."""
        query = (
            select(Payment.created_at)
            .where(
                Payment.user_id == user_id, Payment.created_at >= since, Payment.kind == "payment"
            )
            .order_by(Payment.created_at)
        )
        return list(self.session.scalars(query))

    def claim_unsettled(
        self, created_before: dt.datetime, *, now: dt.datetime, lease_until: dt.datetime, limit: int
    ) -> list[Payment]:
        """Pending or unknown payments older than ``created_before`` that no one is recovering,
        oldest first, leased to the caller until ``lease_until`` (commit to hold the lease)."""
        query = (
            select(Payment)
            .where(
                Payment.status.in_(UNSETTLED),
                Payment.created_at < created_before,
                or_(Payment.recovering_until.is_(None), Payment.recovering_until <= now),
            )
            .order_by(Payment.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(self.session.scalars(query))
        for payment in claimed:
            payment.recovering_until = lease_until
        return claimed

    def by_intents(self, intent_ids: Sequence[str]) -> dict[str, Payment]:
        """Our payments for these PaymentIntents, by PaymentIntent id."""
        query = select(Payment).where(Payment.stripe_transaction_id.in_(intent_ids))
        return {p.stripe_transaction_id or "": p for p in self.session.scalars(query)}

    def by_ids(self, payment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        query = select(Payment).where(Payment.id.in_(payment_ids))
        return {p.id: p for p in self.session.scalars(query)}

    def with_intent_created_between(
        self,
        since: dt.datetime,
        until: dt.datetime,
        *,
        after: tuple[dt.datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[dt.datetime, uuid.UUID, str]]:
        """(created_at, id, PaymentIntent id) of payments made in [since, until) that have a
        PaymentIntent, in (created_at, id) order after ``after``: keyset pages."""
        query = select(Payment.created_at, Payment.id, Payment.stripe_transaction_id).where(
            Payment.created_at >= since,
            Payment.created_at < until,
            Payment.stripe_transaction_id.is_not(None),
        )
        if after is not None:
            query = query.where(tuple_(Payment.created_at, Payment.id) > tuple_(*after))
        query = query.order_by(Payment.created_at, Payment.id).limit(limit)
        return [(row[0], row[1], row[2] or "") for row in self.session.execute(query)]

    def purchases_in_progress(self, user_id: uuid.UUID, plan_id: str) -> int:
        """The user's purchases of the plan still authenticating or not settled yet."""
        query = select(func.count()).where(
            Payment.user_id == user_id,
            Payment.plan_id == plan_id,
            Payment.kind == "payment",
            Payment.status.in_((*UNSETTLED, "requires_action")),
        )
        return int(self.session.scalar(query) or 0)

    def duplicate_purchases(self, *, limit: int) -> list[uuid.UUID]:
        """Succeeded plan purchases that started no subscription (the user had one already)."""
        query = (
            select(Payment.id)
            .where(
                Payment.status == "succeeded",
                Payment.kind == "payment",
                Payment.plan_id.is_not(None),
                Payment.subscription_id.is_(None),
            )
            .order_by(Payment.created_at)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def paid_for_nothing(self, *, limit: int) -> list[uuid.UUID]:
        """Succeeded payments whose success found nothing left to pay for (a renewal of an
        ended or already paid period, an upgrade not applied), oldest first."""
        query = (
            select(Payment.id)
            .where(Payment.paid_for_nothing_at.is_not(None), Payment.status == "succeeded")
            .order_by(Payment.created_at)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def unsettled_for_subscription(self, subscription_id: uuid.UUID) -> list[Payment]:
        """The subscription's payments whose outcome is not known yet."""
        query = select(Payment).where(
            Payment.subscription_id == subscription_id, Payment.status.in_(UNSETTLED)
        )
        return list(self.session.scalars(query))
