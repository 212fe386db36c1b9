"""Refunds as callers see them (``RefundInfo``), with their payment as it stands, and the
queries that read them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Payment, Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.errors import (
    NotFound,
)
from payment_lib.domain.money import Money
from payment_lib.services.payment_requests import (
    parse_uuid,
)
from payment_lib.services.ports import NewUnitOfWork

if TYPE_CHECKING:
    pass


log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RefundInfo:
    """A refund as callers see it, with its payment (and subscription) as they stand now."""

    id: uuid.UUID
    payment_id: uuid.UUID
    status: str
    amount: Money
    reason: str | None
    note: str | None
    requested_by: str
    stripe_refund_id: str | None
    failure_message: str | None
    created_at: dt.datetime
    payment_status: str
    amount_refunded: Money
    remaining_refundable: Money
    subscription_id: uuid.UUID | None
    subscription_status: str | None
    replayed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "payment_id": str(self.payment_id),
            "status": self.status,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "reason": self.reason,
            "note": self.note,
            "requested_by": self.requested_by,
            "stripe_refund_id": self.stripe_refund_id,
            "failure_message": self.failure_message,
            "created_at": self.created_at.isoformat(),
            "payment_status": self.payment_status,
            "amount_refunded": self.amount_refunded.amount,
            "remaining_refundable": self.remaining_refundable.amount,
            "subscription_id": str(self.subscription_id) if self.subscription_id else None,
            "subscription_status": self.subscription_status,
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class _PaymentSide:
    """What every refund of one payment shows of it, read once."""

    held: int
    subscription_status: str | None

    @classmethod
    def read(cls, uow: UnitOfWork, payment: Payment) -> _PaymentSide:
        subscription = None
        if payment.subscription_id is not None:
            subscription = uow.subscriptions.get(payment.subscription_id)
        return cls(
            held=uow.refunds.pending_amount(payment.id),
            subscription_status=subscription.status if subscription is not None else None,
        )


def refund_info(
    uow: UnitOfWork,
    refund: Refund,
    payment: Payment,
    *,
    replayed: bool = False,
    side: _PaymentSide | None = None,
) -> RefundInfo:
    side = side or _PaymentSide.read(uow, payment)
    remaining = max(0, payment.amount - payment.amount_refunded - side.held)
    return RefundInfo(
        id=refund.id,
        payment_id=payment.id,
        status=refund.status,
        amount=Money(refund.amount, refund.currency),
        reason=refund.reason,
        note=refund.note,
        requested_by=refund.requested_by,
        stripe_refund_id=refund.stripe_refund_id,
        failure_message=refund.failure_message,
        created_at=refund.created_at,
        payment_status=payment.status,
        amount_refunded=Money(payment.amount_refunded, payment.currency),
        remaining_refundable=Money(remaining, payment.currency),
        subscription_id=payment.subscription_id,
        subscription_status=side.subscription_status,
        replayed=replayed,
    )


def get_refund(refund_id: object, *, new_uow: NewUnitOfWork) -> RefundInfo:
    """One refund by id. Raises InvalidRequest for a malformed id, NotFound if unknown."""
    wanted = parse_uuid(refund_id, "refund_id")
    with new_uow() as uow:
        refund = uow.refunds.get(wanted)
        payment = uow.payments.get(refund.payment_id) if refund is not None else None
        if refund is None or payment is None:
            raise NotFound(f"No refund {wanted}.")
        return refund_info(uow, refund, payment)


def list_refunds(payment_id: object, *, new_uow: NewUnitOfWork) -> list[RefundInfo]:
    """A payment's refunds, oldest first (NotFound if the payment is unknown)."""
    wanted = parse_uuid(payment_id, "payment_id")
    with new_uow() as uow:
        payment = uow.payments.get(wanted)
        if payment is None:
            raise NotFound(f"No payment {wanted}.")
        side = _PaymentSide.read(uow, payment)
        refunds = uow.refunds.for_payment(wanted)
        return [refund_info(uow, refund, payment, side=side) for refund in refunds]
