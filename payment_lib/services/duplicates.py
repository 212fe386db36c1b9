"""Refunding what paid for nothing, in full, automatically:

- second purchases: a plan payment that succeeded while the user already had a live
  subscription to the plan (it raced past the purchase check, or Stripe charged a purchase we
  had recorded as failed) started no subscription;
- payments marked paid for nothing when their success was recorded: a renewal of a period the
  subscription no longer needed (it ended, or another attempt paid it), an upgrade's charge
  whose subscription ended or moved on while it was in flight.

Each refund has its own key (``payment_lib-duplicate-purchase-<payment id>``,
``payment_lib-paid-for-nothing-<payment id>``), so however many workers find the payment, and
however often, it is refunded once. Such a refund cancels no subscription.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from payment_lib.domain.actors import Actor
from payment_lib.domain.errors import PaymentError
from payment_lib.observability import trace
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.refund_results import RefundInfo
from payment_lib.services.refunds import RefundRequest, refund_payment

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)

LIBRARY = Actor.admin("payment_lib")
_SECOND_PURCHASE = "A second purchase of a plan the user already had: refunded automatically."
_PAID_FOR_NOTHING = "Charged when nothing was left to pay for: refunded automatically."


def refund_duplicate_purchases(
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
    limit: int = 50,
) -> list[RefundInfo]:
    """Refund every second purchase found (see the module docstring); returns the refunds."""
    with new_uow() as uow:
        found = [
            (payment_id, "duplicate-purchase", _SECOND_PURCHASE)
            for payment_id in uow.payments.duplicate_purchases(limit=limit)
        ] + [
            (payment_id, "paid-for-nothing", _PAID_FOR_NOTHING)
            for payment_id in uow.payments.paid_for_nothing(limit=limit)
        ]
    refunded = []
    for payment_id, kind, note in found:
        with trace(), structlog.contextvars.bound_contextvars(payment_id=str(payment_id)):
            request = RefundRequest(
                payment_id=payment_id,
                actor=LIBRARY,
                reason="duplicate",
                note=note,
                idempotency_key=f"payment_lib-{kind}-{payment_id}",
            )
            try:
                refund = refund_payment(
                    request, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics
                )
            except PaymentError as error:
                log.error(
                    "paid for nothing: not refunded",
                    kind=kind,
                    code=error.code,
                    reason=error.message,
                )
                continue
            if not refund.replayed:
                log.warning("paid for nothing: refunded", kind=kind, refund_id=str(refund.id))
                refunded.append(refund)
    return refunded
