"""Refunding a payment: admin only, never more than was paid, one Stripe refund per request.

1. Transaction 1 (payment row locked): replay, resume or conflict on a known key; otherwise
   check what remains refundable (the paid amount less what is refunded and what pending
   refunds hold back) and insert the refund as ``pending`` with its idempotency key.
2. Stripe: create the refund with a key derived from the refund's id, so no retry of the
   call can refund twice.
3. Transaction 2 (payment row locked): record the outcome. A succeeded refund adds to the
   payment's ``amount_refunded`` and moves it to ``partially_refunded`` or ``refunded``; a full
   refund cancels the linked subscription at once (access ends); the confirmation email goes
   to the outbox in the same transaction.

Idempotency keys: a caller's key names one refund request. The same key with the same request
returns the stored refund (``replayed=True``) or resumes a pending one; with a different
request it is an IdempotencyConflict. Without a key, one is derived from the payment and the
amount asked for ("everything that remains" counting as an amount of its own), so repeating a
request (a CLI command run again after a timeout, two admins working one ticket) refunds
once. A second, deliberate refund of the same amount takes a key of its own. A request whose
derived key names a refund Stripe refused makes a fresh attempt.

Unknown outcomes: when Stripe's answer is lost (timeout, dropped connection, 5xx after the
gateway's retries, a crash) the refund stays ``pending`` and keeps its amount reserved. It is
resolved by asking Stripe, not by refunding again: a retry with the same request, or
``recover_pending_refunds``, looks the refund up at Stripe (by its id when known, else among
the PaymentIntent's refunds by our refund id in the metadata) and records what Stripe has.
Only when Stripe has no such refund is the original request sent again, with its original
idempotency key, which Stripe executes at most once; past Stripe's 24-hour key window a
refund Stripe never saw is marked failed instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Unpack

import structlog

from payment_lib.db.tables import Payment, Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import (
    AlreadyRefunded,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
)
from payment_lib.domain.money import Money
from payment_lib.domain.states import (
    PaymentStatus,
    RefundStatus,
)
from payment_lib.observability import trace
from payment_lib.services.payment_requests import (
    check_idempotency_key,
    optional_text,
    parse_uuid,
)
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.request_fields import RefundFields

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

from payment_lib.domain.actors import Actor
from payment_lib.domain.disputes import CHARGEBACK
from payment_lib.domain.money import refund_minor_units
from payment_lib.services.refund_calls import resolve_refund, send_refund
from payment_lib.services.refund_outcomes import PendingRefund
from payment_lib.services.refund_results import RefundInfo, refund_info

log = structlog.get_logger(__name__)

REASONS = ("duplicate", "fraudulent", "requested_by_customer")  # Stripe's
MAX_NOTE = 500


@dataclass(frozen=True)
class RefundRequest:
    """A refund request that passed validation; the amount is checked against the payment."""

    payment_id: uuid.UUID
    actor: Actor
    amount: str | Decimal | None = None
    reason: str | None = None
    note: str | None = None
    idempotency_key: str | None = None

    @classmethod
    def build(
        cls, payment_id: object, actor: Actor, **fields: Unpack[RefundFields]
    ) -> RefundRequest:
        """A request from a caller's fields: the actor checked first, then every field."""
        return validate_refund_request(payment_id=payment_id, actor=actor, **fields)


def validate_refund_request(
    *,
    payment_id: object,
    actor: object,
    amount: object = None,
    reason: object = None,
    note: object = None,
    idempotency_key: object = None,
) -> RefundRequest:
    """Check the actor first (Forbidden unless admin), then every field (InvalidRequest)."""
    if not isinstance(actor, Actor) or not actor.is_admin:
        name = actor.name if isinstance(actor, Actor) else None
        log.warning("refund forbidden", actor=name, payment_id=str(payment_id))
        raise Forbidden("Only an admin may refund a payment.")
    refuse_card_numbers(
        {
            "payment_id": payment_id,
            "actor": actor.name,
            "amount": amount,
            "reason": reason,
            "note": note,
            "idempotency_key": idempotency_key,
        }
    )
    requested_by = optional_text(actor.name, "actor", 255)
    if not requested_by:
        raise InvalidRequest("actor must have a name.", param="actor")
    if reason is not None and reason not in REASONS:
        raise InvalidRequest(f"reason must be one of {', '.join(REASONS)}.", param="reason")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, str | Decimal)):
        raise InvalidRequest(
            f"amount must be a decimal string such as '5.00', got {type(amount).__name__}.",
            param="amount",
        )
    return RefundRequest(
        payment_id=parse_uuid(payment_id, "payment_id"),
        actor=actor,
        amount=amount,
        reason=reason,
        note=optional_text(note, "note", MAX_NOTE),
        idempotency_key=None if idempotency_key is None else check_idempotency_key(idempotency_key),
    )


def derived_key(payment_id: uuid.UUID, minor: int | None) -> str:
    """The key of a request made without one: the payment and the amount asked for."""
    return f"payment_lib-auto-refund-{payment_id}-{'rest' if minor is None else minor}"


def refund_payment(
    request: RefundRequest,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
) -> RefundInfo:
    """Refund a payment once per request; see the module docstring for the steps.

    Raises:
        NotFound: no such payment.
        InvalidRequest: the payment is not a succeeded one, or the amount is malformed or more
            than was paid.
        AlreadyRefunded: nothing, or less than asked, remains refundable.
        IdempotencyConflict: the key was used for a different refund request.
        ProviderUnavailable: Stripe did not answer; the refund stays pending and the same
            request later resolves it without refunding twice.
    """
    with (
        trace(),
        structlog.contextvars.bound_contextvars(
            payment_id=str(request.payment_id), actor=request.actor.name
        ),
    ):
        started = _begin(request, new_uow=new_uow, clock=clock)
        if isinstance(started, RefundInfo):
            log.info("refund replayed", refund_id=str(started.id), status=started.status)
            return started
        pending, resumed = started
        if resumed:
            log.info("refund resumed", refund_id=str(pending.refund_id))
            return resolve_refund(
                pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics
            )
        log.info(
            "refund attempt",
            refund_id=str(pending.refund_id),
            amount=pending.amount,
            reason=pending.reason,
        )
        return send_refund(pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics)


def _begin(
    request: RefundRequest, *, new_uow: NewUnitOfWork, clock: Clock
) -> RefundInfo | tuple[PendingRefund, bool]:
    """Transaction 1: a finished refund to replay, or the pending one to send (and whether
    it is an earlier attempt being resumed)."""
    with new_uow() as uow:
        payment = uow.payments.get(request.payment_id, for_update=True)
        if payment is None:
            raise NotFound(f"No payment {request.payment_id}.")
        minor = None
        if request.amount is not None:
            minor = refund_minor_units(request.amount, payment.currency)
        key = request.idempotency_key or derived_key(payment.id, minor)
        existing = uow.refunds.by_idempotency_key(key)
        if existing is not None:
            _check_same_request(existing, request, minor)
            if existing.status == RefundStatus.PENDING:
                return PendingRefund.of(existing, payment), True
            if existing.status == RefundStatus.SUCCEEDED or request.idempotency_key is not None:
                return refund_info(uow, existing, payment, replayed=True)
            # A derived key stands for "this request unless Stripe refused it": free it.
            existing.idempotency_key = f"{key}-failed-{existing.id}"
            uow.session.flush()
        amount = _refundable(uow, payment, minor)
        now = clock()
        refund = Refund(
            id=uuid.uuid4(),
            payment_id=payment.id,
            amount=amount,
            currency=payment.currency,
            status=RefundStatus.PENDING,
            idempotency_key=key,
            reason=request.reason,
            note=request.note,
            requested_by=request.actor.name,
            created_at=now,
            updated_at=now,
        )
        if not uow.refunds.add(refund):
            raise IdempotencyConflict(
                "This idempotency key was already used for a refund of another payment."
            )
        uow.commit()
        return PendingRefund.of(refund, payment), False


def _check_same_request(existing: Refund, request: RefundRequest, minor: int | None) -> None:
    same = (
        existing.payment_id == request.payment_id
        and (minor is None or minor == existing.amount)
        and (existing.reason, existing.note) == (request.reason, request.note)
    )
    if not same:
        raise IdempotencyConflict(
            f"This refund request was already made differently (refund {existing.id}, "
            f"{Money(existing.amount, existing.currency)}, reason {existing.reason}). "
            "To make another refund, pass an idempotency key of its own."
        )


def _refundable(uow: UnitOfWork, payment: Payment, minor: int | None) -> int:
    """The amount to refund now, or the error saying why not; the payment row is locked."""
    total = Money(payment.amount, payment.currency)
    if payment.status == PaymentStatus.REFUNDED:
        raise AlreadyRefunded(f"Payment {payment.id} has already been fully refunded ({total}).")
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        raise InvalidRequest(
            f"Only a succeeded payment can be refunded; payment {payment.id} is {payment.status}.",
            param="payment_id",
        )
    if payment.dispute_status in CHARGEBACK:
        raise InvalidRequest(
            f"Payment {payment.id} is charged back (dispute {payment.dispute_status}): Stripe "
            "refunds no disputed charge; the dispute decides where the money goes.",
            param="payment_id",
        )
    if minor is not None and minor > payment.amount:
        raise InvalidRequest(f"A refund cannot exceed the {total} paid.", param="amount")
    held = uow.refunds.pending_amount(payment.id)
    remaining = payment.amount - payment.amount_refunded - held
    if remaining <= 0:
        raise AlreadyRefunded(
            f"Nothing remains to refund on payment {payment.id}: all of {total} is refunded "
            "or being refunded."
        )
    if minor is not None and minor > remaining:
        raise AlreadyRefunded(
            f"Only {Money(remaining, payment.currency)} remains refundable on this payment "
            f"({Money(payment.amount_refunded, payment.currency)} of {total} refunded"
            + (f", {Money(held, payment.currency)} awaiting Stripe" if held else "")
            + ").",
            param="amount",
        )
    return remaining if minor is None else minor
