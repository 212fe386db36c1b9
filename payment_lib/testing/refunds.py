"""Refunds: full and partial, accumulated on the charge, with Stripe's refusals.

Card refunds succeed at once in test mode, except for the refundFail test card, whose refund
answers succeeded and then fails (``refund.failed``), as Stripe documents.
"""

from __future__ import annotations

from payment_lib.testing import disputes, objects, payment_objects
from payment_lib.testing.errors import ApiError, invalid
from payment_lib.testing.lists import listed
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import integer, one_of, shown

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create_refund(store: Store, call: Call) -> Obj:
    params = call.params
    charge = _refundable_charge(store, params)
    one_of(params, "reason", REASONS)
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = integer(params, "amount", minimum=1)
    if amount is None:
        amount = remaining
    if amount > remaining:
        code = charge["currency"]
        # Wording as recorded from Stripe; the code is the one integrations match on.
        limit = (
            f"unrefunded amount on charge ({shown(remaining, code)})"
            if charge["amount_refunded"]
            else f"charge amount ({shown(remaining, code)})"
        )
        raise ApiError(
            400,
            f"Refund amount ({shown(amount, code)}) is greater than {limit}",
            code="amount_too_large",
            param="amount",
        )
    call.executing = True
    refund = store.add(
        payment_objects.refund(charge, amount=amount, params=params, created=call.now)
    )
    _apply_to_charge(store, call, charge, amount)
    store.record(call, "refund.created", refund)
    if store.hidden[charge["payment_method"]]["card"].refund_fails:
        call.after_response.append(lambda: _fail(store, call, refund, charge))
    return refund


def _refundable_charge(store: Store, params: Obj) -> Obj:
    if params.get("charge"):
        charge = store.find("charge", params["charge"], param="charge", status=400)
    elif params.get("payment_intent"):
        intent = store.find(
            "payment_intent", params["payment_intent"], param="payment_intent", status=400
        )
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise invalid(
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        charge = store.objects[intent["latest_charge"]]
    else:
        raise invalid(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise invalid(
            f"Charge {charge['id']} has not been captured or has failed; there is "
            "nothing to refund.",
            param="charge",
        )
    if disputes.refusing_refunds(store, charge):
        raise invalid(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    return charge


def _apply_to_charge(store: Store, call: Call, charge: Obj, amount: int) -> None:
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    store.record(call, "charge.refunded", charge, previous)


def _fail(store: Store, call: Call, refund: Obj, charge: Obj) -> None:
    """The refundFail card: the refund turns failed after the answer went out."""
    refund.update(
        status="failed",
        failure_reason="declined",
        failure_balance_transaction=objects.new_id("txn"),
    )
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    store.record(call, "refund.updated", refund, {"status": "succeeded"})
    # Stripe sends charge.refund.updated alongside refund.updated.
    store.record(call, "charge.refund.updated", refund, {"status": "succeeded"})
    store.record(call, "refund.failed", refund)


def retrieve_refund(store: Store, call: Call, refund_id: str) -> Obj:
    return store.find("refund", refund_id)


def list_charge_refunds(store: Store, call: Call, charge_id: str) -> Obj:
    """``GET /v1/charges/<id>/refunds``: where an expanded ``refunds`` list pages on."""
    store.find("charge", charge_id)
    url = f"/v1/charges/{charge_id}/refunds"
    return listed(store, {**call.params, "charge": charge_id}, "refund", url, ("charge",))


def list_refunds(store: Store, call: Call) -> Obj:
    return listed(store, call.params, "refund", "/v1/refunds", ("charge", "payment_intent"))
