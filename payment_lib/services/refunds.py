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

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import Payment, Refund
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.errors import (
    AlreadyRefunded,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PaymentError,
    ProviderUnavailable,
)
from payment_lib.domain.money import Money, exponent, format_amount, smallest_step
from payment_lib.domain.states import (
    PaymentStatus,
    SubscriptionStatus,
    check_payment_transition,
    check_refund_reversal,
)
from payment_lib.observability import trace
from payment_lib.services.payment_requests import (
    _optional_text,
    _refuse_card_numbers,
    check_idempotency_key,
    parse_uuid,
)
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.recovery import RECOVERY_LEASE
from payment_lib.services.settle import SAFE_RESUME_WINDOW
from payment_lib.services.subscriptions import move_subscription

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics
    from payment_lib.stripe_gateway import RefundOutcome, StripeGateway

log = structlog.get_logger(__name__)

ADMIN = "admin"
REASONS = ("duplicate", "fraudulent", "requested_by_customer")  # Stripe's
MAX_NOTE = 500
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]+))?")


@dataclass(frozen=True)
class Actor:
    """Who asks for an operation: the name recorded with it, and the roles it holds.

    Refunds need the ``admin`` role. payment-cli's operator (``--operator``, else the OS user)
    is an admin; a host app maps its own users and permissions onto an Actor.
    """

    name: str
    roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))

    @classmethod
    def admin(cls, name: str) -> Actor:
        """An actor holding the admin role."""
        return cls(name, frozenset({ADMIN}))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True)
class RefundRequest:
    """A refund request that passed validation; the amount is checked against the payment."""

    payment_id: uuid.UUID
    actor: Actor
    amount: str | Decimal | None = None
    reason: str | None = None
    note: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class RefundResult:
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
class _Pending:
    """What the Stripe call needs to know about a refund that is still pending."""

    refund_id: uuid.UUID
    payment_id: uuid.UUID
    payment_intent: str
    amount: int
    reason: str | None
    requested_by: str
    stripe_refund_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, refund: Refund, payment: Payment) -> _Pending:
        return cls(
            refund_id=refund.id,
            payment_id=payment.id,
            payment_intent=payment.stripe_transaction_id or "",
            amount=refund.amount,
            reason=refund.reason,
            requested_by=refund.requested_by,
            stripe_refund_id=refund.stripe_refund_id,
            created_at=refund.created_at,
        )


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
    _refuse_card_numbers({"note": note, "idempotency_key": idempotency_key})
    requested_by = _optional_text(actor.name, "actor", 255)
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
        note=_optional_text(note, "note", MAX_NOTE),
        idempotency_key=None if idempotency_key is None else check_idempotency_key(idempotency_key),
    )


def refund_minor_units(amount: str | Decimal, currency: str) -> int:
    """A refund amount in major units ("5.00") as minor units of the payment's currency.

    Like ``parse_money`` but with no minimum charge: Stripe refunds any positive amount.
    """
    text = str(amount).strip()
    match = _AMOUNT.fullmatch(text)
    places = exponent(currency)
    if match is None or len(match.group(2) or "") > places:
        decimals = "no decimals" if places == 0 else f"at most {places} decimals"
        raise InvalidRequest(
            f"amount must be a positive {currency.upper()} amount with {decimals}, "
            f"got {text[:40]!r}.",
            param="amount",
        )
    minor = int(Decimal(text).scaleb(places))
    if minor <= 0 or minor % smallest_step(currency):
        raise InvalidRequest(
            f"amount must be greater than zero and a multiple of "
            f"{format_amount(smallest_step(currency), currency)} {currency.upper()}, "
            f"got {text[:40]!r}.",
            param="amount",
        )
    return minor


def derived_key(payment_id: uuid.UUID, minor: int | None) -> str:
    """The key of a request made without one: the payment and the amount asked for."""
    return f"payment_lib-auto-refund-{payment_id}-{'rest' if minor is None else minor}"


def stripe_key_for(refund_id: uuid.UUID) -> str:
    """The idempotency key Stripe sees for a refund: derived, stable across retries."""
    return f"payment_lib-refund-{refund_id}"


def refund_payment(
    request: RefundRequest,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
) -> RefundResult:
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
        if isinstance(started, RefundResult):
            log.info("refund replayed", refund_id=str(started.id), status=started.status)
            return started
        pending, resumed = started
        if resumed:
            log.info("refund resumed", refund_id=str(pending.refund_id))
            return _resolve(pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics)
        log.info(
            "refund attempt",
            refund_id=str(pending.refund_id),
            amount=pending.amount,
            reason=pending.reason,
        )
        return _send(pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics)


def _begin(
    request: RefundRequest, *, new_uow: NewUnitOfWork, clock: Clock
) -> RefundResult | tuple[_Pending, bool]:
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
            if existing.status == PENDING:
                return _Pending.of(existing, payment), True
            if existing.status == SUCCEEDED or request.idempotency_key is not None:
                return _result(uow, existing, payment, replayed=True)
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
            status=PENDING,
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
        return _Pending.of(refund, payment), False


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


def _send(
    pending: _Pending,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
) -> RefundResult:
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
        _fail(pending, error.message, new_uow=new_uow, clock=clock, metrics=metrics)
        raise
    return _record(pending, outcome, new_uow=new_uow, clock=clock, metrics=metrics)


@contextmanager
def _stays_pending(pending: _Pending) -> Iterator[None]:
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


def _resolve(
    pending: _Pending,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
) -> RefundResult:
    """Settle a pending refund by asking Stripe what became of it."""
    with _stays_pending(pending):
        if pending.stripe_refund_id:
            outcome: RefundOutcome | None = gateway.retrieve_refund(pending.stripe_refund_id)
        else:
            outcome = gateway.find_refund(
                payment_intent=pending.payment_intent, key="refund_id", value=str(pending.refund_id)
            )
    if outcome is not None:
        return _record(pending, outcome, new_uow=new_uow, clock=clock, metrics=metrics)
    if clock() - pending.created_at > SAFE_RESUME_WINDOW:
        log.error("pending refund never reached Stripe", refund_id=str(pending.refund_id))
        return _fail(
            pending,
            "The refund never reached Stripe; nothing was refunded.",
            new_uow=new_uow,
            clock=clock,
            metrics=metrics,
        )
    log.info("refund not at Stripe; sending it with its original key")
    return _send(pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics)


def _record(
    pending: _Pending,
    outcome: RefundOutcome,
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
) -> RefundResult:
    """Transaction 2: write what Stripe decided, once; a repeated outcome changes nothing."""

    def change(uow: UnitOfWork, payment: Payment, refund: Refund, now: dt.datetime) -> bool:
        refund.stripe_refund_id = outcome.refund_id
        if outcome.status == SUCCEEDED:
            apply_refund_success(uow, payment, refund, now=now)
            return True
        if outcome.status in (FAILED, "canceled"):
            reason = outcome.failure_reason or "no reason given"
            _mark_failed(refund, f"Stripe reports the refund {outcome.status}: {reason}.", now)
            return True
        log.info("refund pending at Stripe", stripe_status=outcome.status)
        return False

    return _settle(pending, change, new_uow=new_uow, clock=clock, metrics=metrics)


def _fail(
    pending: _Pending, message: str, *, new_uow: NewUnitOfWork, clock: Clock, metrics: Metrics
) -> RefundResult:
    """Mark a pending refund failed (Stripe refused it, or never saw it): its amount is free."""

    def change(_uow: UnitOfWork, _payment: Payment, refund: Refund, now: dt.datetime) -> bool:
        _mark_failed(refund, message, now)
        return True

    return _settle(pending, change, new_uow=new_uow, clock=clock, metrics=metrics)


def _settle(
    pending: _Pending,
    change: Callable[[UnitOfWork, Payment, Refund, dt.datetime], bool],
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
) -> RefundResult:
    """Apply ``change`` to the refund if it is still pending (payment row locked); count it."""
    with new_uow() as uow:
        payment = uow.payments.get(pending.payment_id, for_update=True)
        refund = uow.refunds.get(pending.refund_id)
        if payment is None or refund is None:
            raise NotFound(f"No refund {pending.refund_id}.")
        changed = refund.status == PENDING and change(uow, payment, refund, clock())
        result = _result(uow, refund, payment)
        uow.commit()
    if changed:
        metrics.refunds_total.labels(status=result.status).inc()
    return result


def _mark_failed(refund: Refund, message: str, now: dt.datetime) -> None:
    refund.status = FAILED
    refund.failure_message = message[:500]
    refund.updated_at = now
    log.error("refund failed", refund_id=str(refund.id), actor=refund.requested_by, reason=message)


def apply_refund_failure(
    uow: UnitOfWork, payment: Payment, refund: Refund, *, reason: str | None, now: dt.datetime
) -> bool:
    """Stripe failed a refund (after answering, for some cards): give its amount back to the
    payment if it was counted, and email the customer. False when there is nothing to undo.

    A subscription a full refund cancelled stays cancelled (an ended subscription never comes
    back); the error log tells a person to offer the customer a new one.
    """
    if refund.status == FAILED:
        return False
    counted = refund.status == SUCCEEDED
    refund.status = FAILED
    refund.failure_message = f"Stripe failed the refund: {reason or 'no reason given'}"[:500]
    refund.updated_at = now
    if counted:
        payment.amount_refunded -= refund.amount
        target = (
            PaymentStatus.PARTIALLY_REFUNDED
            if payment.amount_refunded > 0
            else PaymentStatus.SUCCEEDED
        )
        check_refund_reversal(PaymentStatus(payment.status), target)
        payment.status = target
        payment.updated_at = now
    if payment.customer_email:
        uow.notifications.enqueue(
            {
                "recipient": payment.customer_email,
                "kind": "refund_failed",
                "payload": {
                    "refund_id": str(refund.id),
                    "payment_id": str(payment.id),
                    "amount": format_amount(refund.amount, refund.currency),
                    "currency": refund.currency,
                    "failure_reason": reason,
                },
                "dedupe_key": f"refund_failed:{refund.id}",
                "created_at": now,
            }
        )
    log.error(
        "refund failed at stripe",
        refund_id=str(refund.id),
        payment_id=str(payment.id),
        amount=refund.amount,
        reason=reason,
        money_returned_to_payment=counted,
        subscription_id=str(payment.subscription_id) if payment.subscription_id else None,
    )
    return True


def apply_refund_success(
    uow: UnitOfWork, payment: Payment, refund: Refund, *, now: dt.datetime
) -> None:
    """Count a refund Stripe made: the payment's refunded total and status, and a full refund
    cancelling its subscription, in the caller's transaction."""
    refund.status = SUCCEEDED
    refund.updated_at = now
    payment.amount_refunded += refund.amount
    full = payment.amount_refunded >= payment.amount
    target = PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED
    check_payment_transition(PaymentStatus(payment.status), target)
    payment.status = target
    payment.updated_at = now
    if full and payment.subscription_id is not None:
        subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
        live = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
        if subscription is not None and subscription.status in live:
            move_subscription(
                subscription, SubscriptionStatus.CANCELLED, now=now, reason="payment refunded"
            )
    if payment.customer_email:
        uow.notifications.enqueue(
            {
                "recipient": payment.customer_email,
                "kind": "refund_confirmation",
                "payload": {
                    "refund_id": str(refund.id),
                    "payment_id": str(payment.id),
                    "amount": format_amount(refund.amount, refund.currency),
                    "currency": refund.currency,
                    "amount_refunded": format_amount(payment.amount_refunded, payment.currency),
                    "fully_refunded": full,
                },
                "dedupe_key": f"refund_confirmation:{refund.id}",
                "created_at": now,
            }
        )
    log.info(
        "refund succeeded",
        refund_id=str(refund.id),
        payment_id=str(payment.id),
        actor=refund.requested_by,
        amount=refund.amount,
        currency=refund.currency,
        payment_status=target.value,
        stripe_refund_id=refund.stripe_refund_id,
    )


def _result(
    uow: UnitOfWork, refund: Refund, payment: Payment, *, replayed: bool = False
) -> RefundResult:
    subscription = None
    if payment.subscription_id is not None:
        subscription = uow.subscriptions.get(payment.subscription_id)
    held = uow.refunds.pending_amount(payment.id)
    remaining = max(0, payment.amount - payment.amount_refunded - held)
    return RefundResult(
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
        subscription_status=subscription.status if subscription is not None else None,
        replayed=replayed,
    )


def recover_pending_refunds(
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    clock: Clock,
    metrics: Metrics,
    older_than: dt.timedelta = dt.timedelta(minutes=2),
    limit: int = 50,
) -> list[RefundResult]:
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
    resolved = []
    for refund_id in stale:
        with trace(), structlog.contextvars.bound_contextvars(refund_id=str(refund_id)):
            try:
                with new_uow() as uow:
                    refund = uow.refunds.get(refund_id)
                    payment = uow.payments.get(refund.payment_id) if refund else None
                    if refund is None or payment is None:
                        raise LookupError(f"refund {refund_id} or its payment vanished")
                    pending = _Pending.of(refund, payment)
                resolved.append(
                    _resolve(
                        pending, new_uow=new_uow, gateway=gateway, clock=clock, metrics=metrics
                    )
                )
            except PaymentError as error:
                log.warning("pending refund not resolved", code=error.code, reason=error.message)
            except Exception as error:  # a bad row: logged, and the batch goes on
                log.error(
                    "pending refund not resolved", code=type(error).__name__, reason=str(error)
                )
    return resolved


def get_refund(refund_id: object, *, new_uow: NewUnitOfWork) -> RefundResult:
    """One refund by id. Raises InvalidRequest for a malformed id, NotFound if unknown."""
    wanted = parse_uuid(refund_id, "refund_id")
    with new_uow() as uow:
        refund = uow.refunds.get(wanted)
        payment = uow.payments.get(refund.payment_id) if refund is not None else None
        if refund is None or payment is None:
            raise NotFound(f"No refund {wanted}.")
        return _result(uow, refund, payment)


def list_refunds(payment_id: object, *, new_uow: NewUnitOfWork) -> list[RefundResult]:
    """A payment's refunds, oldest first (NotFound if the payment is unknown)."""
    wanted = parse_uuid(payment_id, "payment_id")
    with new_uow() as uow:
        payment = uow.payments.get(wanted)
        if payment is None:
            raise NotFound(f"No payment {wanted}.")
        return [_result(uow, refund, payment) for refund in uow.refunds.for_payment(wanted)]
