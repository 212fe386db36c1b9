"""Stripe's objects (PaymentIntents, Charges, Disputes) read into what the services need, without
the SDK.

The gateway reads its API answers through these functions and the webhook handlers read event
payloads through the same ones, so a synchronous result and its webhook mean the same thing.
Plain dicts in, frozen dataclasses out; nothing here imports ``stripe``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# The kinds of Stripe object reconcile lists.
Listable = Literal["payment_intents", "charges", "refunds", "disputes"]


@dataclass(frozen=True)
class CardDetails:
    """What may be kept of a card: never its number."""

    stripe_payment_method_id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class IntentOutcome:
    """A PaymentIntent as the services need it, whether Stripe accepted or declined it."""

    intent_id: str | None
    status: str
    amount: int | None = None
    currency: str | None = None
    redirect_url: str | None = None
    error_code: str | None = None
    decline_code: str | None = None
    error_message: str | None = None
    card: CardDetails | None = None
    customer: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class RefundOutcome:
    """A Stripe Refund as the services need it."""

    refund_id: str
    status: str  # pending, requires_action, succeeded, failed or canceled
    amount: int
    currency: str
    failure_reason: str | None = None
    request_id: str | None = None


def card_details(payment_method: Any) -> CardDetails | None:
    """The safe details of an expanded PaymentMethod; None for a bare id or nothing."""
    if not payment_method or isinstance(payment_method, str):
        return None
    card = payment_method.get("card") or {}
    return CardDetails(
        stripe_payment_method_id=payment_method["id"],
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def intent_outcome(intent: Any, *, request_id: str | None, error: Any = None) -> IntentOutcome:
    """A PaymentIntent (or the ``error`` body of a declined create) as an outcome; a
    SetupIntent reads the same way (no amount; ``last_setup_error`` for the error)."""
    next_action = intent.get("next_action") or {}
    redirect = (next_action.get("redirect_to_url") or {}).get("url")
    problem = error or intent.get("last_payment_error") or intent.get("last_setup_error") or {}
    payment_method = intent.get("payment_method") or problem.get("payment_method")
    return IntentOutcome(
        intent_id=intent.get("id"),
        status=intent.get("status") or "requires_payment_method",
        amount=intent.get("amount"),
        currency=intent.get("currency"),
        redirect_url=redirect,
        error_code=problem.get("code"),
        decline_code=problem.get("decline_code"),
        error_message=problem.get("message"),
        card=card_details(payment_method),
        customer=intent.get("customer"),
        request_id=request_id,
    )


def charge_outcome(charge: Mapping[str, Any], *, request_id: str | None) -> IntentOutcome | None:
    """What a Charge says about its PaymentIntent: succeeded (paid) or declined (failed).

    A charge is one attempt at paying its PaymentIntent. The library confirms each
    PaymentIntent once, so a succeeded charge means a succeeded PaymentIntent and a failed
    one a declined PaymentIntent, the same outcome its ``payment_intent.*`` event carries.
    Returns None for a charge that decides nothing (pending, or not tied to a PaymentIntent).
    """
    intent_id = charge.get("payment_intent")
    if not isinstance(intent_id, str):
        return None
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    method = charge.get("payment_method")
    found = card_details({"id": method, "card": card}) if isinstance(method, str) else None
    common: dict[str, Any] = {
        "intent_id": intent_id,
        "amount": charge.get("amount"),
        "currency": charge.get("currency"),
        "card": found,
        "customer": charge.get("customer"),
        "request_id": request_id,
    }
    if charge.get("status") == "succeeded" and charge.get("paid", True):
        return IntentOutcome(status="succeeded", **common)
    if charge.get("status") == "failed":
        outcome = charge.get("outcome") or {}
        return IntentOutcome(
            status="requires_payment_method",
            error_code=charge.get("failure_code") or "card_declined",
            decline_code=_decline_code(outcome),
            error_message=charge.get("failure_message"),
            **common,
        )
    return None


def _decline_code(outcome: Mapping[str, Any]) -> str | None:
    """A charge's ``outcome.reason`` is its PaymentIntent's ``decline_code``, except when Radar
    blocked it: the reason is then a risk level and the PaymentIntent says ``fraudulent``."""
    if outcome.get("type") == "blocked":
        return "fraudulent"
    reason = outcome.get("reason")
    return reason if isinstance(reason, str) else None


@dataclass(frozen=True)
class DisputeSnapshot:
    """A Dispute as one event carries it: the dispute as it was when the event was made."""

    dispute_id: str
    status: str
    amount: int
    currency: str
    reason: str | None
    charge_id: str | None
    intent_id: str | None
    # Our payment's id from the disputed charge's metadata, when the charge is expanded.
    payment_id: str | None
    evidence_due_by: int | None
    # The amounts of its balance transactions (negative: withdrawn); None when not given.
    balance: tuple[int, ...] | None


def dispute_snapshot(dispute: Mapping[str, Any]) -> DisputeSnapshot:
    """A Dispute object (its ``charge`` and ``payment_intent`` ids or expanded objects)."""
    charge = dispute.get("charge")
    charge = charge if isinstance(charge, Mapping) else {"id": charge}
    intent = dispute.get("payment_intent") or charge.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, Mapping) else intent
    transactions = dispute.get("balance_transactions")
    balance = None
    if isinstance(transactions, list):
        balance = tuple(int(t.get("amount") or 0) for t in transactions if isinstance(t, Mapping))
    due_by = (dispute.get("evidence_details") or {}).get("due_by")
    return DisputeSnapshot(
        dispute_id=str(dispute["id"]),
        status=str(dispute.get("status")),
        amount=int(dispute.get("amount") or 0),
        currency=str(dispute.get("currency") or ""),
        reason=dispute.get("reason"),
        charge_id=charge.get("id") if isinstance(charge.get("id"), str) else None,
        intent_id=intent_id if isinstance(intent_id, str) else None,
        payment_id=(charge.get("metadata") or {}).get("payment_id"),
        evidence_due_by=due_by if isinstance(due_by, int) else None,
        balance=balance,
    )
