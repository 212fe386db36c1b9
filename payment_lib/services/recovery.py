"""Recovery: the worker's pass over payments and refunds whose outcome we do not know.

Each is claimed with a lease (``recovering_until``) that is held across the Stripe call, so
two workers never ask Stripe about the same payment at once; each is settled in a try of its
own, so one bad row never stops the others. A payment Stripe still cannot be asked about stays
``unknown`` and keeps its lease until it ends: the next try comes after it, and others are not
held up behind it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import structlog

from payment_lib.domain.errors import PaymentError, ProviderError, ProviderUnavailable
from payment_lib.observability import trace
from payment_lib.services.payment_outcomes import OutcomePolicy, record_outcome, record_unknown
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.refund_calls import resolve_refund
from payment_lib.services.refund_outcomes import PendingRefund
from payment_lib.services.refund_results import RefundInfo
from payment_lib.services.settle import settle

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Longer than one settling can take (three Stripe calls of at most 30 s, with backoff).
RECOVERY_LEASE = dt.timedelta(minutes=5)


def recover_stale_payments(
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    retry_days: tuple[int, ...] = (),
    metrics: Metrics | None = None,
    older_than: dt.timedelta = dt.timedelta(minutes=2),
    limit: int = 50,
) -> list[PaymentInfo]:
    """Settle payments left ``pending`` (a crash) or ``unknown`` (a lost answer) by asking
    Stripe; returns the payments settled (a payment still unknown is not among them)."""
    now = clock()
    with new_uow() as uow:
        claimed = uow.payments.claim_unsettled(
            now - older_than, now=now, lease_until=now + RECOVERY_LEASE, limit=limit
        )
        ids = [payment.id for payment in claimed]
        uow.commit()
    return _one_by_one(
        ids,
        "payment",
        lambda payment_id: _settle_one(
            payment_id,
            new_uow=new_uow,
            gateway=gateway,
            policy=OutcomePolicy(now=clock(), retry_days=retry_days, metrics=metrics),
        ),
    )


def _one_by_one(ids: list[uuid.UUID], what: str, settle_one: Callable[[uuid.UUID], T]) -> list[T]:
    """``settle_one`` each claimed id in a try of its own, with its own trace: a failure is
    logged (an unexpected one at error level) and the batch goes on."""
    settled = []
    for item_id in ids:
        with trace(), structlog.contextvars.bound_contextvars(**{f"{what}_id": str(item_id)}):
            try:
                settled.append(settle_one(item_id))
            except PaymentError as error:
                log.warning(f"{what} not settled", code=error.code, reason=error.message)
            except Exception as error:  # a bad row
                log.error(f"{what} not settled", code=type(error).__name__, reason=str(error))
    return settled


def _settle_one(
    payment_id: uuid.UUID, *, new_uow: NewUnitOfWork, gateway: StripeGateway, policy: OutcomePolicy
) -> PaymentInfo:
    with new_uow() as uow:
        payment = uow.payments.get(payment_id)
    if payment is None:
        raise LookupError(f"payment {payment_id} vanished")
    log.info("recovering payment", status=payment.status)
    try:
        outcome = settle(gateway, payment, policy.now)
    except (ProviderUnavailable, ProviderError) as error:
        record_unknown(payment_id, error.code, new_uow=new_uow, policy=policy)
        raise
    return record_outcome(payment_id, outcome, new_uow=new_uow, policy=policy)


def recover_pending_refunds(
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
    older_than: dt.timedelta = dt.timedelta(minutes=2),
    limit: int = 50,
) -> list[RefundInfo]:
    """Resolve refunds left pending by a lost answer or a crash, by asking Stripe.

    Each is leased (``recovering_until``, held across the Stripe calls) so that two workers
    never ask about one refund at once, and settled in a try of its own: one bad row never
    stops the batch. A refund Stripe still cannot be asked about is logged and keeps its lease
    until it ends, then is tried again.
    """
    now = clock()
    with new_uow() as uow:
        claimed = uow.refunds.claim_stale_pending(
            now - older_than, now=now, lease_until=now + RECOVERY_LEASE, limit=limit
        )
        stale = [refund.id for refund in claimed]
        uow.commit()

    def resolve_one(refund_id: uuid.UUID) -> RefundInfo:
        with new_uow() as uow:
            refund = uow.refunds.get(refund_id)
            payment = uow.payments.get(refund.payment_id) if refund else None
            if refund is None or payment is None:
                raise LookupError(f"refund {refund_id} or its payment vanished")
            pending = PendingRefund.of(refund, payment)
        return resolve_refund(
            pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics
        )

    return _one_by_one(stale, "refund", resolve_one)
