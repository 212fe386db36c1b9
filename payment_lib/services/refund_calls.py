"""Asking Stripe for a refund, and settling a refund whose outcome we do not know: by asking
Stripe (by its id, else among its PaymentIntent's refunds by our refund id in the metadata),
never by refunding again; sent again only while Stripe surely remembers its key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

from payment_lib.domain.errors import (
    PaymentError,
    ProviderUnavailable,
)
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.settle import SAFE_RESUME_WINDOW

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.services.ports import StripeGateway
    from payment_lib.stripe_objects import RefundOutcome

from payment_lib.services.refund_outcomes import (
    PendingRefund,
    fail_refund,
    record_refund_outcome,
    stripe_key_for,
)
from payment_lib.services.refund_results import RefundInfo

log = structlog.get_logger(__name__)


def send_refund(
    pending: PendingRefund,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
) -> RefundInfo:
    """Step 2 and 3: ask Stripe for the refund (its key makes this at most once), record it."""
    try:
        with _stays_pending(pending):
            outcome = gateway.create_refund(
                payment_intent=pending.payment_intent,
                amount=pending.amount,
                idempotency_key=stripe_key_for(pending.refund_id),
                reason=pending.reason,
                metadata={
                    "refund_id": str(pending.refund_id),
                    "payment_id": str(pending.payment_id),
                    "requested_by": pending.requested_by,
                },
            )
    except ProviderUnavailable:
        raise  # the outcome is unknown: not a refusal, so the refund stays pending
    except PaymentError as error:  # Stripe refused it: nothing was refunded
        fail_refund(pending, error.message, new_uow=new_uow, clock=clock, metrics=metrics)
        raise
    return record_refund_outcome(pending, outcome, new_uow=new_uow, clock=clock, metrics=metrics)


@contextmanager
def _stays_pending(pending: PendingRefund) -> Iterator[None]:
    """Stripe could not be reached: the refund stays pending, and the error says so."""
    try:
        yield
    except ProviderUnavailable as error:
        log.warning("refund outcome unknown", refund_id=str(pending.refund_id))
        raise ProviderUnavailable(
            f"Stripe did not confirm refund {pending.refund_id}; it stays pending. Retry the "
            "same request later: it asks Stripe and never refunds twice.",
            retry_after=error.retry_after,
            stripe_request_id=error.stripe_request_id,
        ) from error


def resolve_refund(
    pending: PendingRefund,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
) -> RefundInfo:
    """Settle a pending refund by asking Stripe what became of it."""
    with _stays_pending(pending):
        if pending.stripe_refund_id:
            outcome: RefundOutcome | None = gateway.retrieve_refund(pending.stripe_refund_id)
        else:
            outcome = gateway.find_refund(
                payment_intent=pending.payment_intent, key="refund_id", value=str(pending.refund_id)
            )
    if outcome is not None:
        return record_refund_outcome(
            pending, outcome, new_uow=new_uow, clock=clock, metrics=metrics
        )
    if clock() - pending.created_at > SAFE_RESUME_WINDOW:
        log.error("pending refund never reached Stripe", refund_id=str(pending.refund_id))
        return fail_refund(
            pending,
            "The refund never reached Stripe; nothing was refunded.",
            new_uow=new_uow,
            clock=clock,
            metrics=metrics,
        )
    log.info("refund not at Stripe; sending it with its original key")
    return send_refund(pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics)
