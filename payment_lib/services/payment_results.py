"""Payments as callers see them (``PaymentInfo``) and the queries that read them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from payment_lib.domain.errors import NotFound
from payment_lib.domain.money import Money
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.payment_rows import PaymentRow
from payment_lib.services.ports import NewUnitOfWork


@dataclass(frozen=True)
class FailureInfo:
    code: str
    message: str
    retry_helps: bool

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "retry_helps": self.retry_helps}


@dataclass(frozen=True)
class PaymentInfo:
    """A payment as callers see it."""

    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    amount: Money
    amount_refunded: Money
    stripe_transaction_id: str | None
    redirect_url: str | None
    subscription_id: uuid.UUID | None
    plan_id: str | None
    error: FailureInfo | None
    created_at: dt.datetime
    replayed: bool = False
    dispute_status: str | None = None  # the status of the payment's dispute, if it has one
    amount_lost: Money | None = None  # lost to a dispute: its amount once lost

    @classmethod
    def of(cls, payment: PaymentRow, *, replayed: bool = False) -> PaymentInfo:
        # The row's loaded values straight from its __dict__ (the ORM's attribute access
        # costs ~0.7 µs each); through the ORM those that are not there (it loads them).
        loaded = payment.__dict__

        def get(name: str) -> Any:
            return loaded[name] if name in loaded else getattr(payment, name)

        currency = get("currency")
        error = None
        if get("failure_code"):
            retry = bool((get("details") or {}).get("retry_helps", False))
            error = FailureInfo(get("failure_code"), get("failure_message") or "", retry)
        return cls(
            id=get("id"),
            user_id=get("user_id"),
            status=get("status"),
            amount=Money(get("amount"), currency),
            amount_refunded=Money(get("amount_refunded"), currency),
            stripe_transaction_id=get("stripe_transaction_id"),
            redirect_url=get("redirect_url"),
            subscription_id=get("subscription_id"),
            plan_id=get("plan_id"),
            error=error,
            created_at=get("created_at"),
            replayed=replayed,
            dispute_status=get("dispute_status"),
            amount_lost=Money(get("amount_lost") or 0, currency),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "user_id": str(self.user_id),
            "status": self.status,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "amount_refunded": self.amount_refunded.amount,
            "stripe_transaction_id": self.stripe_transaction_id,
            "redirect_url": self.redirect_url,
            "subscription_id": str(self.subscription_id) if self.subscription_id else None,
            "plan_id": self.plan_id,
            "error": self.error.to_dict() if self.error else None,
            "created_at": self.created_at.isoformat(),
            "replayed": self.replayed,
            "dispute_status": self.dispute_status,
            "amount_lost": self.amount_lost.amount if self.amount_lost is not None else None,
        }


def get_payment(payment_id: object, *, new_uow: NewUnitOfWork) -> PaymentInfo:
    """One payment by id. Raises InvalidRequest for a malformed id, NotFound if unknown."""
    wanted = parse_uuid(payment_id, "payment_id")
    with new_uow() as uow:
        payment = uow.payments.get(wanted)
        if payment is None:
            raise NotFound(f"No payment {wanted}.")
        return PaymentInfo.of(payment)


def list_payments(user_id: object, *, new_uow: NewUnitOfWork) -> list[PaymentInfo]:
    """A user's payments, newest first."""
    user = parse_uuid(user_id, "user_id")
    with new_uow() as uow:
        return [PaymentInfo.of(p) for p in uow.payments.for_user(user)]
