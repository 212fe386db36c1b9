"""The disputes repository: one row per Stripe dispute, inserted once whatever event comes
first (``insert_once``), locked while an event is applied."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from payment_lib.db.repositories import insert_once
from payment_lib.db.tables import Dispute


class DisputeRepository:
    """Disputes: one row per Stripe dispute, inserted once whatever event comes first."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_once(self, values: dict[str, Any]) -> bool:
        """Store a dispute unless its stripe_dispute_id is known; True if it was added."""
        return insert_once(self.session, Dispute, values, "stripe_dispute_id")

    def lock(self, stripe_dispute_id: str) -> Dispute | None:
        """The dispute with this Stripe id, locked until the transaction ends."""
        query = (
            select(Dispute).where(Dispute.stripe_dispute_id == stripe_dispute_id).with_for_update()
        )
        return self.session.scalars(query).first()

    def get(self, dispute_id: uuid.UUID) -> Dispute | None:
        return self.session.get(Dispute, dispute_id)

    def by_stripe_id(self, stripe_dispute_id: str) -> Dispute | None:
        query = select(Dispute).where(Dispute.stripe_dispute_id == stripe_dispute_id)
        return self.session.scalars(query).first()

    def listing(self, *, status: str | None, limit: int) -> list[Dispute]:
        """Disputes newest first (as we learned of them), only those in ``status`` if given."""
        query = select(Dispute)
        if status is not None:
            query = query.where(Dispute.status == status)
        query = query.order_by(Dispute.created_at.desc(), Dispute.id.desc()).limit(limit)
        return list(self.session.scalars(query))

    def known(self, stripe_dispute_ids: Sequence[str]) -> set[str]:
        """Which of these Stripe disputes are recorded here."""
        query = select(Dispute.stripe_dispute_id).where(
            Dispute.stripe_dispute_id.in_(stripe_dispute_ids)
        )
        return set(self.session.scalars(query))
