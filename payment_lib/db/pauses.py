"""The paused subscriptions whose pause has come to its end: due for an automatic resume."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from payment_lib.db.tables import Subscription


class PauseRepository:
    """Paused subscriptions due for an automatic resume."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def ended(
        self,
        now: dt.datetime,
        *,
        limit: int,
        lock: bool,
        subscription_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
    ) -> list[Subscription]:
        """Paused subscriptions whose ``pause_until`` is at or before ``now``, in id order;
        only one, or one user's, when given. With ``lock``, locked, skipping others' claims."""
        s = Subscription
        query = select(s).where(s.status == "paused", s.pause_until <= now)
        if subscription_id is not None:
            query = query.where(s.id == subscription_id)
        if user_id is not None:
            query = query.where(s.user_id == user_id)
        query = query.order_by(s.id).limit(limit)
        if lock:
            query = query.with_for_update(skip_locked=True)
        return list(self.session.scalars(query))
