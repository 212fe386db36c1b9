"""Payment and subscription states, with their allowed transitions written down as data."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from payment_lib.domain.errors import IllegalTransition


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELED = "canceled"
    # An attempt ended without Stripe's answer (lost, timed out, unclassified error): settled
    # by asking Stripe, never by re-sending once Stripe may have forgotten the key.
    UNKNOWN = "unknown"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # leased to one sender until next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # parked after repeated failures; an operator may resend it


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PAUSED = "paused"


_P = PaymentStatus
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _P.PENDING: frozenset({_P.REQUIRES_ACTION, _P.SUCCEEDED, _P.FAILED, _P.CANCELED, _P.UNKNOWN}),
    _P.UNKNOWN: frozenset({_P.REQUIRES_ACTION, _P.SUCCEEDED, _P.FAILED, _P.CANCELED}),
    _P.REQUIRES_ACTION: frozenset({_P.SUCCEEDED, _P.FAILED, _P.CANCELED}),
    _P.SUCCEEDED: frozenset({_P.PARTIALLY_REFUNDED, _P.REFUNDED}),
    _P.PARTIALLY_REFUNDED: frozenset({_P.PARTIALLY_REFUNDED, _P.REFUNDED}),
    _P.REFUNDED: frozenset(),
    _P.FAILED: frozenset(),
    _P.CANCELED: frozenset(),
}

# A refund Stripe fails after answering "succeeded" gives its amount back. This is the only way
# out of a refunded state, kept apart from PAYMENT_TRANSITIONS so that a late payment event can
# never undo a refund.
REFUND_REVERSALS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _P.REFUNDED: frozenset({_P.PARTIALLY_REFUNDED, _P.SUCCEEDED}),
    _P.PARTIALLY_REFUNDED: frozenset({_P.PARTIALLY_REFUNDED, _P.SUCCEEDED}),
}

# Stripe says a payment we recorded as failed or canceled succeeded (the customer paid): Stripe
# is the ledger of record, so its success is applied, logged at error level and counted. Kept
# apart from PAYMENT_TRANSITIONS: nothing else may leave those states.
LEDGER_CORRECTIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _P.FAILED: frozenset({_P.SUCCEEDED}),
    _P.CANCELED: frozenset({_P.SUCCEEDED}),
}

# Payments whose outcome we do not know yet: settled from Stripe by recovery.
UNSETTLED = (_P.PENDING, _P.UNKNOWN)

_S = SubscriptionStatus
# Subscriptions a user holds (one per plan at most): they renew, or will again.
LIVE_SUBSCRIPTIONS = (_S.TRIALING, _S.ACTIVE, _S.PAST_DUE, _S.PAUSED)
SUBSCRIPTION_TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    # A trial ends in its first renewal (paid: active; declined: past_due), or without a card.
    _S.TRIALING: frozenset({_S.ACTIVE, _S.PAST_DUE, _S.CANCELLED, _S.EXPIRED}),
    _S.ACTIVE: frozenset({_S.PAST_DUE, _S.CANCELLED, _S.EXPIRED, _S.PAUSED}),
    _S.PAST_DUE: frozenset({_S.ACTIVE, _S.CANCELLED, _S.EXPIRED}),
    _S.PAUSED: frozenset({_S.ACTIVE, _S.CANCELLED}),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
}


_R = RefundStatus
REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    _R.PENDING: frozenset({_R.SUCCEEDED, _R.FAILED}),
    # Stripe may fail a refund it answered as succeeded (refund.failed), for some cards.
    _R.SUCCEEDED: frozenset({_R.FAILED}),
    _R.FAILED: frozenset(),
}

_N = NotificationStatus
NOTIFICATION_TRANSITIONS: dict[NotificationStatus, frozenset[NotificationStatus]] = {
    _N.PENDING: frozenset({_N.SENDING}),
    # Sent, retried later, parked; back to pending when the sender stops before sending; or
    # claimed again by another sender once its lease ended (at least once).
    _N.SENDING: frozenset({_N.SENT, _N.PENDING, _N.FAILED, _N.SENDING}),
    _N.SENT: frozenset(),
    _N.FAILED: frozenset({_N.PENDING}),  # an operator's resend
}


def check_payment_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    """Raise IllegalTransition unless a payment may move from ``current`` to ``target``."""
    _check("payment", PAYMENT_TRANSITIONS, current, target)


def check_refund_reversal(current: PaymentStatus, target: PaymentStatus) -> None:
    """Raise IllegalTransition unless a failed refund may move a payment back to ``target``."""
    if target not in REFUND_REVERSALS.get(current, frozenset()):
        raise IllegalTransition(
            f"A failed refund cannot make a {current.value} payment {target.value}."
        )


def check_subscription_transition(current: SubscriptionStatus, target: SubscriptionStatus) -> None:
    """Raise IllegalTransition unless a subscription may move from ``current`` to ``target``."""
    _check("subscription", SUBSCRIPTION_TRANSITIONS, current, target)


def check_refund_transition(current: RefundStatus, target: RefundStatus) -> None:
    """Raise IllegalTransition unless a refund may move from ``current`` to ``target``."""
    _check("refund", REFUND_TRANSITIONS, current, target)


def check_notification_transition(current: NotificationStatus, target: NotificationStatus) -> None:
    """Raise IllegalTransition unless an email may move from ``current`` to ``target``."""
    _check("notification", NOTIFICATION_TRANSITIONS, current, target)


S = TypeVar("S", PaymentStatus, SubscriptionStatus, RefundStatus, NotificationStatus)


def _check(kind: str, table: dict[S, frozenset[S]], current: S, target: S) -> None:
    if target not in table[current]:
        raise IllegalTransition(f"A {current.value} {kind} cannot become {target.value}.")
