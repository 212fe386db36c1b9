"""The refunds repository: a payment's refunds, what pending ones hold back, recovery claims."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from payment_lib.db.tables import (
    Refund,
)


class RefundRepository:
    """Refunds; a payment's pending refunds reserve their amount until Stripe answers."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, refund: Refund) -> bool:
        """Insert a refund; False, adding nothing, when its idempotency key is taken."""
        try:
            with self.session.begin_nested():
                self.session.add(refund)
        except IntegrityError:
            return False
        return True

    def get(self, refund_id: uuid.UUID) -> Refund | None:
        return self.session.get(Refund, refund_id)

    def lock(self, refund_id: uuid.UUID) -> Refund | None:
        """The refund, locked until the transaction ends (read afresh)."""
        query = (
            select(Refund)
            .where(Refund.id == refund_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(query).first()

    def by_stripe_id(self, stripe_refund_id: str, *, for_update: bool = False) -> Refund | None:
        query = select(Refund).where(Refund.stripe_refund_id == stripe_refund_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def by_idempotency_key(self, key: str) -> Refund | None:
        return self.session.scalars(select(Refund).where(Refund.idempotency_key == key)).first()

    def by_stripe_ids(self, stripe_refund_ids: Sequence[str]) -> dict[str, Refund]:
        query = select(Refund).where(Refund.stripe_refund_id.in_(stripe_refund_ids))
        return {r.stripe_refund_id or "": r for r in self.session.scalars(query)}

    def by_ids(self, refund_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Refund]:
        query = select(Refund).where(Refund.id.in_(refund_ids))
        return {r.id: r for r in self.session.scalars(query)}

    def for_payment(self, payment_id: uuid.UUID) -> list[Refund]:
        """A payment's refunds, oldest first."""
        query = select(Refund).where(Refund.payment_id == payment_id)
        return list(self.session.scalars(query.order_by(Refund.created_at, Refund.id)))

    def pending_amount(self, payment_id: uuid.UUID) -> int:
        """What the payment's pending refunds hold back, in minor units."""
        query = select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment_id, Refund.status == "pending"
        )
        return int(self.session.scalar(query) or 0)

    def claim_stale_pending(
        self, created_before: dt.datetime, *, now: dt.datetime, lease_until: dt.datetime, limit: int
    ) -> list[Refund]:
        """Pending refunds older than ``created_before`` that no one is recovering, oldest
        first, leased to the caller until ``lease_until`` (commit to hold the lease)."""
        query = (
            select(Refund)
            .where(
                Refund.status == "pending",
                Refund.created_at < created_before,
                or_(Refund.recovering_until.is_(None), Refund.recovering_until <= now),
            )
            .order_by(Refund.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(self.session.scalars(query))
        for refund in claimed:
            refund.recovering_until = lease_until
        return claimed
