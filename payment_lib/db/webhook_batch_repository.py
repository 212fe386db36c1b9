"""The SQL of applying a claimed batch of webhook events at once, in a few statements whatever
the batch's size: the due events claimed as plain rows (``FOR UPDATE SKIP LOCKED``), the
payments they are about read and locked by one SELECT (in id order, the order every batch locks
them in), their decided columns written by one set-based UPDATE (PostgreSQL: ``UPDATE ...
FROM jsonb_to_recordset(...)``; SQLite, in process, one executemany), and the events marked
done by one UPDATE per status. Core statements: no ORM objects are loaded, tracked or flushed.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    any_,
    bindparam,
    false,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class

from payment_lib.db.json_document import to_storable
from payment_lib.db.tables import Payment, PaymentMethod, WebhookEvent

# The payment columns an outcome decides (payment_outcomes.outcome_changes, the PaymentIntent id).
DECIDED = (
    "status",
    "updated_at",
    "redirect_url",
    "stripe_transaction_id",
    "failure_code",
    "failure_message",
    "details",
    "payment_method_id",
)
# What deciding an outcome reads (payment_outcomes: outcome_changes, follow_up, the email).
_READ = (
    *DECIDED,
    "id",
    "kind",
    "amount",
    "currency",
    "plan_id",
    "subscription_id",
    "customer_email",
    "user_id",
)
_PAYMENTS: Table = Payment.__table__  # type: ignore[assignment]
_EVENTS: Table = WebhookEvent.__table__  # type: ignore[assignment]
_CARDS: Table = PaymentMethod.__table__  # type: ignore[assignment]


# One statement text whatever the number of rows (compiled once, prepared by the server): the
# decided columns of every payment in one JSON document, made rows by jsonb_to_recordset (one
# json.dumps on the client, not a typed array to dump per column).
_RECORD = "id uuid, status text, updated_at timestamptz, redirect_url text, " + ", ".join(
    f"{name} text" for name in ("stripe_transaction_id", "failure_code", "failure_message")
)
_WRITE_DECIDED = text(
    "UPDATE payments SET "
    + ", ".join(f"{name} = decided.{name}" for name in DECIDED)
    + " FROM jsonb_to_recordset(CAST(:decided AS jsonb))"
    + f" AS decided({_RECORD}, details jsonb, payment_method_id uuid)"
    + " WHERE payments.id = decided.id"
)


@dataclass(frozen=True)
class ClaimedEvent:
    """A claimed inbox row, as applying it needs it."""

    id: uuid.UUID
    stripe_event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: dt.datetime


class WebhookBatchRepository:
    """A claimed batch's reads and writes, each one statement."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim_due(self, now: dt.datetime, *, limit: int) -> list[ClaimedEvent]:
        """Unprocessed events due at ``now``, oldest first, locked; others' claims are skipped
        (the same claim as ``WebhookEventRepository.claim_due``, as rows)."""
        query = (
            select(
                _EVENTS.c.id,
                _EVENTS.c.stripe_event_id,
                _EVENTS.c.event_type,
                _EVENTS.c.payload,
                _EVENTS.c.created_at,
            )
            .where(_EVENTS.c.processed == false(), _EVENTS.c.next_attempt_at <= now)
            .order_by(_EVENTS.c.created_at, _EVENTS.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [ClaimedEvent(*row) for row in self.session.execute(query).all()]

    def lock_payments(
        self, intent_ids: Collection[str], payment_ids: Collection[uuid.UUID]
    ) -> list[Payment]:
        """The payments with these PaymentIntent ids or ids, locked in id order, as detached
        objects holding the columns deciding an outcome reads (``_READ``): changing them writes
        nothing until ``write_payments``."""
        if not intent_ids and not payment_ids:
            return []
        query = (
            select(*(_PAYMENTS.c[name] for name in _READ))
            .where(
                or_(
                    self._among(_PAYMENTS.c.stripe_transaction_id, intent_ids),
                    self._among(_PAYMENTS.c.id, payment_ids),
                )
            )
            .order_by(_PAYMENTS.c.id)
            .with_for_update()
        )
        configure_mappers()  # a no-op once the mappers are configured
        new_payment = manager_of_class(Payment).new_instance
        payments = []
        for row in self.session.execute(query).all():
            payment = new_payment()  # as the ORM's loading does: not Payment(...) (10x dearer)
            payment.__dict__.update(zip(_READ, row, strict=True))
            payments.append(payment)
        return payments

    def card_ids(self, stripe_ids: Collection[str]) -> dict[str, uuid.UUID]:
        """The ids of the known cards among these Stripe PaymentMethod ids, by those."""
        if not stripe_ids:
            return {}
        column = _CARDS.c.stripe_payment_method_id
        query = select(column, _CARDS.c.id).where(self._among(column, stripe_ids))
        return {stripe_id: card_id for stripe_id, card_id in self.session.execute(query).all()}

    def add_cards(self, rows: Sequence[dict[str, object]]) -> None:
        """New cards, in one statement (one another transaction added meanwhile makes it fail:
        the batch then goes one event at a time)."""
        if rows:
            self.session.execute(insert(_CARDS).values(list(rows)))

    def write_payments(self, payments: Sequence[Payment]) -> None:
        """Write the ``DECIDED`` columns of these (locked) payments, in one statement."""
        if not payments:
            return
        rows = [{"id": p.id, **{name: getattr(p, name) for name in DECIDED}} for p in payments]
        if self.session.get_bind().dialect.name == "postgresql":
            for row in rows:  # as the columns' types bind them, in JSON
                row["id"] = str(row["id"])
                method = row["payment_method_id"]
                row["payment_method_id"] = str(method) if method is not None else None
                row["updated_at"] = row["updated_at"].astimezone(dt.UTC).isoformat()
                row["details"] = to_storable(row["details"])
            self.session.execute(_WRITE_DECIDED, {"decided": json.dumps(rows)})
            return
        statement = (
            update(_PAYMENTS)
            .where(_PAYMENTS.c.id == bindparam("decided_id"))
            .values({name: bindparam(f"decided_{name}") for name in DECIDED})
        )
        self.session.execute(
            statement, [{f"decided_{name}": value for name, value in row.items()} for row in rows]
        )

    def mark_done(self, ids: Sequence[uuid.UUID], *, status: str, now: dt.datetime) -> None:
        """These events applied (``processed``) or of a type nobody handles (``ignored``)."""
        if not ids:
            return
        self.session.execute(
            update(_EVENTS)
            .where(self._among(_EVENTS.c.id, ids))
            .values(
                processed=True,
                status=status,
                processed_at=now,
                attempts=_EVENTS.c.attempts + 1,
                last_error=None,
                next_attempt_at=None,
            )
        )

    def _among(self, column: ColumnElement[Any], many: Collection[Any]) -> ColumnElement[bool]:
        """``column IN many``; on PostgreSQL ``= ANY(array)``: one statement text whatever the
        number of values (prepared once by the server, not split anew by the driver)."""
        if self.session.get_bind().dialect.name == "postgresql":
            return column == any_(bindparam(None, list(many), type_=ARRAY(column.type)))
        return column.in_(list(many))
