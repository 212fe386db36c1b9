"""Disputes as Stripe sends them: Dispute objects built around a real Charge retrieved through
the SDK, and the events of a dispute's life (created, funds_withdrawn, updated, closed,
funds_reinstated), each a snapshot of the dispute at that moment."""

from __future__ import annotations

import time

from webhook_helpers import event_of, stripe_client, stripe_id

DUE_BY = 1_900_000_000  # 2030-03-17 17:46:40 UTC


def charge_of(stripe_target, intent_id: str) -> dict:
    """The PaymentIntent's Charge, as the SDK retrieves it."""
    client = stripe_client(stripe_target)
    intent = client.v1.payment_intents.retrieve(intent_id)
    return client.v1.charges.retrieve(intent.latest_charge).to_dict()


def dispute_of(
    charge: dict,
    status: str,
    *,
    dispute_id: str,
    balance: tuple[int, ...] = (),
    reason: str = "fraudulent",
    created: int | None = None,
) -> dict:
    """A Dispute on ``charge`` in ``status``, with one balance transaction per amount in
    ``balance`` (negative: withdrawn from us; positive: given back)."""
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": charge["amount"],
        "balance_transactions": [
            {
                "id": stripe_id("txn"),
                "object": "balance_transaction",
                "amount": amount,
                "currency": charge["currency"],
                "fee": 1500 if amount < 0 else -1500,
                "net": amount - 1500 if amount < 0 else amount + 1500,
                "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
                "type": "adjustment",
            }
            for amount in balance
        ],
        "charge": charge["id"],
        "created": created or int(time.time()),
        "currency": charge["currency"],
        "evidence": {"uncategorized_text": None},
        "evidence_details": {
            "due_by": DUE_BY,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": status,
    }


def life_of_a_dispute(charge: dict, outcome: str, *, dispute_id: str | None = None) -> list[dict]:
    """The events of one dispute, in the order Stripe sends them, two of them per second as
    Stripe's second-granular ``created`` often makes them: a chargeback ``won`` or ``lost``,
    or an ``inquiry`` that closes without one."""
    dispute_id = dispute_id or stripe_id("dp")
    t = int(time.time()) - 3600
    amount = charge["amount"]
    created = t

    def at(event_type: str, when: int, status: str, balance: tuple[int, ...] = ()) -> dict:
        obj = dispute_of(charge, status, dispute_id=dispute_id, balance=balance, created=created)
        return event_of(event_type, obj, created=when)

    if outcome == "inquiry":
        return [
            at("charge.dispute.created", t, "warning_needs_response"),
            at("charge.dispute.updated", t + 10, "warning_under_review"),
            at("charge.dispute.closed", t + 20, "warning_closed"),
        ]
    opened = [
        # Created and withdrawn in the same second; the first snapshot before the withdrawal.
        at("charge.dispute.created", t, "needs_response"),
        at("charge.dispute.funds_withdrawn", t, "needs_response", (-amount,)),
        at("charge.dispute.updated", t + 10, "under_review", (-amount,)),
    ]
    if outcome == "lost":
        return [*opened, at("charge.dispute.closed", t + 20, "lost", (-amount,))]
    return [
        *opened,
        at("charge.dispute.closed", t + 20, "won", (-amount,)),
        at("charge.dispute.funds_reinstated", t + 20, "won", (-amount, amount)),
    ]
