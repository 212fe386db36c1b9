"""Refunds Stripe made that the library did not ask for (Stripe's Dashboard, the API), recorded
once however we learn of them: a ``charge.refunded`` webhook or a reconcile.

Each such refund is keyed by its charge and the charge's refunded total once it was made
(``payment_lib-outside-refund-<charge>-<total>``), the same key whichever way it arrives, so
it is never counted twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import structlog

from payment_lib.db.tables import Payment, Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.states import RefundStatus
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.refund_outcomes import apply_refund_success, stripe_key_for

log = structlog.get_logger(__name__)

# Who a refund made outside the library is recorded as.
OUTSIDE = "stripe"
NOTE = "Refunded outside payment_lib (Stripe's Dashboard or API)."


def outside_refund_key(charge_id: str, total: int) -> str:
    return f"payment_lib-outside-refund-{charge_id}-{total}"


def record_outside_refund(
    uow: UnitOfWork,
    payment: Payment,
    *,
    charge_id: str,
    total: int,
    amount: int,
    now: dt.datetime,
    stripe_refund_id: str | None = None,
) -> bool:
    """Record one outside refund that took the charge's refunded total to ``total``, at most
    what the payment has left; False when it is recorded already (or nothing is left)."""
    amount = min(amount, payment.amount - payment.amount_refunded)
    if amount <= 0:
        return False
    refund = Refund(
        id=uuid.uuid4(),
        payment_id=payment.id,
        amount=amount,
        currency=payment.currency,
        status=RefundStatus.PENDING,
        stripe_refund_id=stripe_refund_id,
        idempotency_key=outside_refund_key(charge_id, total),
        note=NOTE,
        requested_by=OUTSIDE,
        created_at=now,
        updated_at=now,
    )
    if not uow.refunds.add(refund):
        return False
    apply_refund_success(uow, payment, refund, now=now)
    return True


def record_stripe_refunds(
    payment_id: uuid.UUID,
    stripe_refunds: Sequence[dict[str, Any]],
    *,
    new_uow: NewUnitOfWork,
    now: dt.datetime,
) -> set[str]:
    """Record every succeeded refund among ``stripe_refunds`` (one PaymentIntent's, oldest
    first) that is neither one of the library's own nor recorded already; returns their ids."""
    recorded: set[str] = set()
    with new_uow() as uow:
        payment = uow.payments.get(payment_id, for_update=True)
        if payment is None:
            return recorded
        recorded_here = uow.refunds.for_payment(payment.id)
        ours = {stripe_key_for(r.id) for r in recorded_here}
        known = {r.stripe_refund_id for r in recorded_here}
        total = 0
        for refund in stripe_refunds:
            if refund.get("status") != "succeeded":
                continue
            total += int(refund["amount"])
            metadata = refund.get("metadata") or {}
            if refund["id"] in known or (
                metadata.get("refund_id")
                and (stripe_key_for(uuid.UUID(str(metadata["refund_id"]))) in ours)
            ):
                continue
            if record_outside_refund(
                uow,
                payment,
                charge_id=str(refund.get("charge")),
                total=total,
                amount=int(refund["amount"]),
                now=now,
                stripe_refund_id=refund["id"],
            ):
                recorded.add(refund["id"])
                log.error(
                    "refund made at stripe recorded by reconcile",
                    payment_id=str(payment.id),
                    stripe_refund_id=refund["id"],
                    amount=refund["amount"],
                )
        uow.commit()
    return recorded
