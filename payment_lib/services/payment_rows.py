"""A payment's columns as the request path reads them, with or without the ORM.

``PaymentRow`` is what the Stripe call, recording an outcome and the caller's result read of a
payment: an ORM ``Payment``, or an ``InsertedPayment``, the row transaction 1 inserts by one
Core statement (``payment_writes.insert_pending``), carried as the values it already has.
Building an ORM ``Payment`` for it cost ~35 µs of SQLAlchemy's attribute instrumentation per
payment, for nothing a session would use (it is never added to one).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, TypeAlias

from payment_lib.db.tables import Payment


class InsertedPayment:
    """The payment row this process just inserted: every column it set, and None for those a
    new row leaves unset. Plain attributes, as the ORM's row has them; never in a session."""

    id: uuid.UUID
    user_id: uuid.UUID
    amount: int
    currency: str
    status: str
    kind: str
    plan_id: str | None
    subscription_id: uuid.UUID | None
    customer_email: str | None
    description: str | None
    details: dict[str, Any]
    amount_refunded: int
    amount_lost: int
    created_at: dt.datetime
    stripe_transaction_id: str | None = None
    redirect_url: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    dispute_status: str | None = None
    payment_method_id: uuid.UUID | None = None
    recovering_until: dt.datetime | None = None
    paid_for_nothing_at: dt.datetime | None = None

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


PaymentRow: TypeAlias = Payment | InsertedPayment
