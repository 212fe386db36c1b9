"""Each user's Stripe Customer: one per user, made only when a purchase that passed its own
checks needs it.

The customers row is claimed (written pending) before Stripe is asked, and Stripe is asked
with a key derived from the user and parameters that never change (just the user id in the
metadata), so a retry at any time gets the same Customer back instead of a conflict. The
email is set by an update when it changes, never in the create.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import structlog

from payment_lib.services.ports import NewUnitOfWork

if TYPE_CHECKING:
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)


def customer_for(
    user_id: uuid.UUID,
    email: str | None,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    now: dt.datetime,
) -> str:
    """The user's Stripe Customer id, made if the user has none; its email brought up to date."""
    with new_uow() as uow:
        row = uow.customers.claim(user_id, now=now)
        known, known_email = row.stripe_customer_id, row.email
        uow.commit()
    if known is None:
        known = gateway.create_customer(
            user_id=str(user_id), idempotency_key=f"payment_lib-customer-{user_id}"
        )
        log.info("stripe customer made", user_id=str(user_id), stripe_customer_id=known)
        _record(user_id, now, new_uow=new_uow, stripe_customer_id=known)
    if email and email != known_email:
        gateway.update_customer_email(known, email)
        _record(user_id, now, new_uow=new_uow, email=email)
    return known


def _record(user_id: uuid.UUID, now: dt.datetime, *, new_uow: NewUnitOfWork, **values: str) -> None:
    with new_uow() as uow:
        row = uow.customers.claim(user_id, now=now)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        uow.commit()
