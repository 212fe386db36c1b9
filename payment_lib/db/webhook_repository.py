"""The webhook inbox's SQL: store events once, claim due ones in batches, list them.

Claims lock what they return (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: workers never wait on
each other's claims; SQLite's one writer at a time needs no more). The claim and the listings
are served by the partial indexes of migration 0010 (``NOT processed``, due), so a worker pass
reads only the rows it takes, however many events are stored or parked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import false, select, text, tuple_
from sqlalchemy.orm import Session

from payment_lib.db.tables import WebhookEvent


class WebhookEventRepository:
    """The webhook inbox: each Stripe event stored once, claimed by one worker at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, stripe_event_id: str, *, for_update: bool = False) -> WebhookEvent | None:
        query = select(WebhookEvent).where(WebhookEvent.stripe_event_id == stripe_event_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def lock(self, event_id: uuid.UUID) -> WebhookEvent | None:
        """The event, locked until the transaction ends."""
        query = select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        return self.session.scalars(query).first()

    def claim_due(self, now: dt.datetime, *, limit: int) -> list[WebhookEvent]:
        """Unprocessed events due at ``now``, oldest first, locked; others' claims are skipped.

        Parked events (next_attempt_at NULL) are never due, nor read (the partial index).
        """
        query = (
            select(WebhookEvent)
            .where(WebhookEvent.processed == false(), WebhookEvent.next_attempt_at <= now)
            .order_by(WebhookEvent.created_at, WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def in_order(self, ids: Sequence[uuid.UUID]) -> list[WebhookEvent]:
        """These events (this transaction's claim locks them already), in the order of ``ids``."""
        if not ids:
            return []
        found = {
            e.id: e
            for e in self.session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(ids)))
        }
        return [found[i] for i in ids if i in found]

    def wait_for_locks_at_most(self, milliseconds: int) -> None:
        """Until the transaction ends, a statement waiting longer than this on another
        transaction's lock fails (``is_lock_conflict``) instead of waiting (PostgreSQL;
        SQLite's transactions never wait on each other inside)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text(f"SET LOCAL lock_timeout = {int(milliseconds)}"))

    def listing(
        self,
        *,
        unprocessed: bool,
        limit: int,
        status: str | None = None,
        event_type: str | None = None,
        since: dt.datetime | None = None,
        after: tuple[dt.datetime, uuid.UUID] | None = None,
    ) -> list[WebhookEvent]:
        """Events oldest first; only those not processed yet when ``unprocessed``, only those
        with ``status``, of ``event_type`` or stored since ``since`` when given; a keyset page
        after ``after`` (created_at, id)."""
        query = select(WebhookEvent)
        if unprocessed:
            query = query.where(WebhookEvent.processed == false())
        if status is not None:
            query = query.where(WebhookEvent.status == status)
        if event_type is not None:
            query = query.where(WebhookEvent.event_type == event_type)
        if since is not None:
            query = query.where(WebhookEvent.created_at >= since)
        if after is not None:
            query = query.where(tuple_(WebhookEvent.created_at, WebhookEvent.id) > after)
        query = query.order_by(WebhookEvent.created_at, WebhookEvent.id).limit(limit)
        return list(self.session.scalars(query))
