"""Disputes as test mode makes them: the dispute test cards, the Dispute object and its events,
evidence that wins, loses or escalates, and accepting (closing) a dispute.

A charge on a dispute card succeeds and is disputed at once, right after the payment's own
events (Stripe takes a moment; here it is synchronous, so tests need not wait). A chargeback
withdraws the amount and a fee (``charge.dispute.funds_withdrawn``); an inquiry withdraws
nothing. Evidence with ``uncategorized_text`` set to ``winning_evidence`` or
``losing_evidence`` settles the dispute in the same request (at Stripe, a few seconds later);
``escalate_inquiry_evidence`` turns an inquiry into a chargeback.
"""

from __future__ import annotations

from payment_lib.testing.errors import invalid
from payment_lib.testing.lists import listed
from payment_lib.testing.objects import merged_metadata, new_id
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import boolean, one_of

REASONS = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
EVIDENCE_TEXT = """
    access_activity_log billing_address cancellation_policy cancellation_policy_disclosure
    cancellation_rebuttal customer_communication customer_email_address customer_name
    customer_purchase_ip customer_signature duplicate_charge_documentation
    duplicate_charge_explanation duplicate_charge_id product_description receipt refund_policy
    refund_policy_disclosure refund_refusal_explanation service_date service_documentation
    shipping_address shipping_carrier shipping_date shipping_documentation
    shipping_tracking_number uncategorized_file uncategorized_text
"""
SUBMISSION_METHODS = ("manual", "prefer_manual", "prefer_smart_disputes", "smart_disputes")
CLOSED = ("won", "lost", "warning_closed")
# What a chargeback costs besides the amount: 15.00 in USD as recorded in test mode; the same
# number of minor units is used for every currency (a simplification).
DISPUTE_FEE = 1500
# (unconfirmed) Stripe gives about one to three weeks to respond; one week here.
RESPONSE_WINDOW = 7 * 24 * 3600
# Visa's codes as test mode reports them for the test cards.
NETWORK_REASON_CODES = {
    ("fraudulent", False): "10.4",
    ("fraudulent", True): "10",
    ("product_not_received", False): "13.1",
}
WINNING, LOSING, ESCALATING = "winning_evidence", "losing_evidence", "escalate_inquiry_evidence"


def dispute_after_charge(store: Store, call: Call, charge: Obj) -> None:
    """The dispute test cards: a charge that just succeeded (and was captured) is disputed."""
    disputed = store.hidden[charge["payment_method"]]["card"].dispute
    if disputed is not None:
        open_dispute(store, call, charge, reason=disputed.reason, inquiry=disputed.inquiry)


def open_for_test(store: Store, call: Call, target_id: str, *, reason: str, inquiry: bool) -> Obj:
    """Dispute a succeeded charge (or a PaymentIntent's), as the dispute test cards do.

    Raises:
        ApiError: 404 for an unknown id.
        ValueError: for an unknown reason, or a charge not succeeded, not captured or
            already disputed.
    """
    if reason not in REASONS:
        raise ValueError(f"Unknown dispute reason {reason!r}; Stripe's are {', '.join(REASONS)}.")
    if target_id.startswith("pi_"):
        intent = store.find("payment_intent", target_id)
        if intent["status"] != "succeeded":
            raise ValueError(
                f"{target_id} is {intent['status']}; only a succeeded payment can be disputed."
            )
        charge = store.objects[intent["latest_charge"]]
    else:
        charge = store.find("charge", target_id)
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise ValueError(
            f"{charge['id']} is not a succeeded, captured charge; it cannot be disputed."
        )
    if charge["disputed"]:
        raise ValueError(f"{charge['id']} is already disputed.")
    return open_dispute(store, call, charge, reason=reason, inquiry=inquiry)


def open_dispute(store: Store, call: Call, charge: Obj, *, reason: str, inquiry: bool) -> Obj:
    """Open a dispute on a charge and record ``charge.dispute.created`` (and, for a chargeback,
    ``charge.dispute.funds_withdrawn``)."""
    dispute = store.add(_dispute(charge, reason, inquiry, call.now), inquiry=inquiry)
    store.hidden[charge["id"]]["dispute"] = dispute["id"]
    charge["disputed"] = True
    if not inquiry:
        _withdraw(dispute, call.now)
    store.record(call, "charge.dispute.created", dispute)
    if not inquiry:
        store.record(call, "charge.dispute.funds_withdrawn", dispute)
    return dispute


def refusing_refunds(store: Store, charge: Obj) -> bool:
    """Whether the charge was charged back, so Stripe refuses to refund it."""
    dispute_id = store.hidden[charge["id"]].get("dispute")
    return dispute_id is not None and not store.objects[dispute_id]["is_charge_refundable"]


def retrieve_dispute(store: Store, call: Call, dispute_id: str) -> Obj:
    return store.find("dispute", dispute_id)


def list_disputes(store: Store, call: Call) -> Obj:
    return listed(store, call.params, "dispute", "/v1/disputes", ("charge", "payment_intent"))


def update_dispute(store: Store, call: Call, dispute_id: str) -> Obj:
    params = call.params
    dispute = _open(store, dispute_id)
    given = params.get("evidence", {})
    if not isinstance(given, dict):
        raise invalid("Invalid hash", param="evidence")
    method = one_of(params, "intended_submission_method", SUBMISSION_METHODS)
    submit = boolean(params, "submit") if "submit" in params else bool(given)
    call.executing = True
    changes: Obj = {}
    details = dict(dispute["evidence_details"])
    if given:
        changes["evidence"] = {**dispute["evidence"], **{k: v or None for k, v in given.items()}}
        details["has_evidence"] = True
    if submit:
        details["submission_count"] += 1
        details["submission_method"] = "manual"
        inquiry = store.hidden[dispute_id]["inquiry"]
        changes["status"] = "warning_under_review" if inquiry else "under_review"
    if details != dispute["evidence_details"]:
        changes["evidence_details"] = details
    if "metadata" in params:
        changes["metadata"] = merged_metadata(dispute["metadata"], params["metadata"])
    if method is not None:
        changes["intended_submission_method"] = method
    previous = {name: dispute[name] for name in changes}
    dispute.update(changes)
    store.record(call, "charge.dispute.updated", dispute, previous)
    magic = given.get("uncategorized_text") if submit else None
    if magic in (WINNING, LOSING):
        _close(store, call, dispute, won=magic == WINNING)
    elif magic == ESCALATING and store.hidden[dispute_id]["inquiry"]:
        _escalate(store, call, dispute)
    return dispute


def close_dispute(store: Store, call: Call, dispute_id: str) -> Obj:
    """Accept the dispute: lost (an inquiry: closed without a chargeback)."""
    dispute = _open(store, dispute_id)
    call.executing = True
    _close(store, call, dispute, won=False)
    return dispute


def _open(store: Store, dispute_id: str) -> Obj:
    dispute = store.find("dispute", dispute_id)
    if dispute["status"] in CLOSED:
        # (unconfirmed wording) Stripe refuses any change to a closed dispute.
        raise invalid(
            f"This dispute is already closed (status {dispute['status']}); it cannot be changed."
        )
    return dispute


def _close(store: Store, call: Call, dispute: Obj, *, won: bool) -> None:
    inquiry = store.hidden[dispute["id"]]["inquiry"]
    previous = {"status": dispute["status"]}
    reinstated = won and not inquiry
    if inquiry:
        dispute["status"] = "warning_closed"
    else:
        dispute["status"] = "won" if won else "lost"
    if reinstated:
        dispute["balance_transactions"] = [
            *dispute["balance_transactions"],
            _balance_transaction(dispute, call.now, withdrawal=False),
        ]
        dispute["is_charge_refundable"] = True
    store.record(call, "charge.dispute.closed", dispute, previous)
    if reinstated:
        store.record(call, "charge.dispute.funds_reinstated", dispute)


def _escalate(store: Store, call: Call, dispute: Obj) -> None:
    """An inquiry becomes a chargeback: funds are withdrawn and a response is due again."""
    store.hidden[dispute["id"]]["inquiry"] = False
    card = {**dispute["payment_method_details"]["card"], "case_type": "chargeback"}
    dispute.update(
        status="needs_response",
        payment_method_details={**dispute["payment_method_details"], "card": card},
    )
    _withdraw(dispute, call.now)
    store.record(call, "charge.dispute.funds_withdrawn", dispute)


def _withdraw(dispute: Obj, now: int) -> None:
    dispute["balance_transactions"] = [
        *dispute["balance_transactions"],
        _balance_transaction(dispute, now, withdrawal=True),
    ]
    dispute["is_charge_refundable"] = False


def _dispute(charge: Obj, reason: str, inquiry: bool, created: int) -> Obj:
    code = NETWORK_REASON_CODES.get((reason, inquiry))
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": charge["amount_captured"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {
            **dict.fromkeys(EVIDENCE_TEXT.split()),
            "appeal": None,
            "enhanced_evidence": {},
        },
        "evidence_details": {
            "due_by": created + RESPONSE_WINDOW,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": None,
        "is_charge_refundable": True,
        "livemode": False,
        "metadata": {},
        "network_reason_code": code,
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": charge["payment_method_details"]["card"]["brand"],
                "case_type": "inquiry" if inquiry else "chargeback",
                "network": charge["payment_method_details"]["card"]["network"],
                "network_reason_code": code,
            },
            "type": "card",
        },
        "reason": reason,
        "status": "warning_needs_response" if inquiry else "needs_response",
    }


def _balance_transaction(dispute: Obj, now: int, *, withdrawal: bool) -> Obj:
    """The money a dispute moves: the amount and fee out, or (when won) the amount back.

    (unconfirmed) Whether a won dispute returns the fee depends on the account's pricing;
    the reinstatement here returns the amount only.
    """
    fee = DISPUTE_FEE if withdrawal else 0
    amount = -dispute["amount"] if withdrawal else dispute["amount"]
    what = "withdrawal" if withdrawal else "reversal"
    return {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now,
        "balance_type": "payments",
        "created": now,
        "currency": dispute["currency"],
        "description": f"Chargeback {what} for {dispute['charge']}",
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": dispute["currency"],
                    "description": "Dispute fee",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
        "net": amount - fee,
        "reporting_category": "dispute" if withdrawal else "dispute_reversal",
        "source": dispute["id"],
        "status": "available",
        "type": "adjustment",
    }
