"""The operators' listings: payments, refunds, subscriptions and webhook events, filtered and
paged with an opaque cursor.

A page holds at most ``limit`` items and, when more may follow, ``next_cursor``: pass it back
to get the next page. The cursor names the last item's (created_at, id), so items added
meanwhile never shift a page (keyset paging): payments, refunds and subscriptions come newest
first, webhook events oldest first, as their inbox is worked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from payment_lib.db.listings import After, Filters
from payment_lib.db.tables import Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import InvalidRequest
from payment_lib.domain.states import PaymentStatus, RefundStatus, SubscriptionStatus
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.refund_results import RefundInfo, refund_info
from payment_lib.services.subscriptions import SubscriptionInfo
from payment_lib.services.webhook_events import STATUSES as EVENT_STATUSES
from payment_lib.services.webhook_events import WebhookEventInfo

MAX_LIMIT = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is None on the last."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Query:
    """A caller's listing request, checked: ``Query.build(...)``."""

    filters: Filters
    after: After | None
    limit: int

    @classmethod
    def build(
        cls,
        *,
        statuses: Sequence[str],
        status: object = None,
        user_id: object = None,
        payment_id: object = None,
        plan_id: object = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        cursor: object = None,
        limit: int = 100,
    ) -> Query:
        """Check every field (InvalidRequest naming it); nothing is read before that."""
        refuse_card_numbers({"status": status, "plan_id": plan_id, "cursor": cursor})
        if status is not None and status not in statuses:
            raise InvalidRequest(f"status must be one of {', '.join(statuses)}.", param="status")
        if plan_id is not None and (not isinstance(plan_id, str) or len(plan_id) > 64):
            raise InvalidRequest("plan_id must be a plan's id.", param="plan_id")
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidRequest(f"{name} must be an aware datetime (UTC).", param=name)
        if since is not None and until is not None and since >= until:
            raise InvalidRequest("since must be before until.", param="since")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be from 1 to {MAX_LIMIT}.", param="limit")
        filters = Filters(
            status=None if status is None else str(status),
            user_id=None if user_id is None else parse_uuid(user_id, "user_id"),
            payment_id=None if payment_id is None else parse_uuid(payment_id, "payment_id"),
            plan_id=plan_id,
            since=since,
            until=until,
        )
        return cls(filters, decode_cursor(cursor), limit)


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    text = f"{created_at.astimezone(dt.UTC).isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: object) -> After | None:
    """The (created_at, id) a cursor names, or InvalidRequest for anything else."""
    if cursor is None:
        return None
    try:
        text = str(cursor)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        moment, _, row_id = raw.partition("|")
        created = dt.datetime.fromisoformat(moment)
        if created.tzinfo is None:
            raise ValueError(moment)
        return created, uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidRequest(
            "cursor must be a next_cursor this command printed.", param="cursor"
        ) from None


def _page(rows: Sequence[T], limit: int, key: Callable[[T], After]) -> str | None:
    return encode_cursor(*key(rows[-1])) if len(rows) == limit else None


def find_payments(query: Query, *, new_uow: NewUnitOfWork) -> Page[PaymentInfo]:
    with new_uow() as uow:
        rows = uow.listings.payments(query.filters, after=query.after, limit=query.limit)
        cursor = _page(rows, query.limit, lambda p: (p.created_at, p.id))
        return Page([PaymentInfo.of(p) for p in rows], cursor)


def find_refunds(query: Query, *, new_uow: NewUnitOfWork) -> Page[RefundInfo]:
    with new_uow() as uow:
        rows = uow.listings.refunds(query.filters, after=query.after, limit=query.limit)
        cursor = _page(rows, query.limit, lambda r: (r.created_at, r.id))
        return Page(_refund_infos(uow, rows), cursor)


def _refund_infos(uow: UnitOfWork, refunds: Sequence[Refund]) -> list[RefundInfo]:
    payments = uow.payments.by_ids(sorted({r.payment_id for r in refunds}))
    return [refund_info(uow, r, payments[r.payment_id]) for r in refunds]


def find_subscriptions(query: Query, *, new_uow: NewUnitOfWork) -> Page[SubscriptionInfo]:
    with new_uow() as uow:
        rows = uow.listings.subscriptions(query.filters, after=query.after, limit=query.limit)
        cursor = _page(rows, query.limit, lambda s: (s.created_at, s.id))
        return Page([SubscriptionInfo.of(s) for s in rows], cursor)


def find_webhook_events(
    query: Query, *, event_type: object, unprocessed: bool, new_uow: NewUnitOfWork
) -> Page[WebhookEventInfo]:
    """Stored events oldest first (the order the inbox is worked in); only those not
    processed yet when ``unprocessed``."""
    refuse_card_numbers({"event_type": event_type})
    if event_type is not None and (not isinstance(event_type, str) or len(event_type) > 100):
        raise InvalidRequest("event_type must be a Stripe event type.", param="event_type")
    with new_uow() as uow:
        rows = uow.webhook_events.listing(
            unprocessed=unprocessed,
            limit=query.limit,
            status=query.filters.status,
            event_type=event_type,
            since=query.filters.since,
            after=query.after,
        )
        cursor = _page(rows, query.limit, lambda e: (e.created_at, e.id))
        return Page([WebhookEventInfo.of(e) for e in rows], cursor)


STATUSES: dict[str, tuple[str, ...]] = {
    "payments": tuple(PaymentStatus),
    "refunds": tuple(RefundStatus),
    "subscriptions": tuple(SubscriptionStatus),
    "webhook_events": EVENT_STATUSES,
}
