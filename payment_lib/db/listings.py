"""The operators' listings: payments, refunds and subscriptions, filtered, newest first, in
keyset pages on (created_at, id), each served by an index (tests/integration/test_query_plans.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from payment_lib.db.tables import Payment, Refund, Subscription

After = tuple[dt.datetime, uuid.UUID]
_Row = TypeVar("_Row", Payment, Refund, Subscription)


@dataclass(frozen=True)
class Filters:
    """What a listing keeps; None keeps everything. Times bound ``created_at``: [since, until)."""

    status: str | None = None
    user_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    plan_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class ListingRepository:
    """Filtered keyset pages, newest first: rows strictly older than ``after`` (the last row
    of the previous page), ``limit`` at most."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def payments(self, filters: Filters, *, after: After | None, limit: int) -> list[Payment]:
        query = select(Payment)
        if filters.user_id is not None:
            query = query.where(Payment.user_id == filters.user_id)
        return self._page(Payment, query, filters, after, limit)

    def refunds(self, filters: Filters, *, after: After | None, limit: int) -> list[Refund]:
        query = select(Refund)
        if filters.payment_id is not None:
            query = query.where(Refund.payment_id == filters.payment_id)
        return self._page(Refund, query, filters, after, limit)

    def subscriptions(
        self, filters: Filters, *, after: After | None, limit: int
    ) -> list[Subscription]:
        query = select(Subscription)
        if filters.user_id is not None:
            query = query.where(Subscription.user_id == filters.user_id)
        if filters.plan_id is not None:
            query = query.where(Subscription.plan_id == filters.plan_id)
        return self._page(Subscription, query, filters, after, limit)

    def _page(
        self,
        model: type[_Row],
        query: Select[Any],
        filters: Filters,
        after: After | None,
        limit: int,
    ) -> list[_Row]:
        created, row_id = model.created_at, model.id
        if filters.status is not None:
            query = query.where(model.status == filters.status)
        if filters.since is not None:
            query = query.where(created >= filters.since)
        if filters.until is not None:
            query = query.where(created < filters.until)
        if after is not None:
            query = query.where(tuple_(created, row_id) < after)
        query = query.order_by(created.desc(), row_id.desc()).limit(limit)
        return list(self.session.scalars(query))
