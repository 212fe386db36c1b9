"""Builders for the objects of a card payment: PaymentIntents, Charges and Refunds, with every
field the SDK declares (null where it does not apply, as for a card payment in test mode).

These run for every payment, so the parts that never vary are built once and shared: state
changes replace an object's top-level fields and never edit nested objects in place (which
``Store.record`` relies on too), so a shared nested object is never changed.
"""

from __future__ import annotations

from typing import Any

from payment_lib.testing.cards import Decline
from payment_lib.testing.objects import new_id, nulls, random_token, shipping

Obj = dict[str, Any]

_INTENT_NULLS = nulls(
    """
    allowed_payment_method_types application application_fee_amount canceled_at
    cancellation_reason customer_account excluded_payment_method_types hooks
    last_payment_error latest_charge managed_payments next_action on_behalf_of
    payment_details payment_method payment_method_configuration_details payment_record
    presentment_details processing review source transfer_data
    """
)
_AMOUNT_DETAILS = {**nulls("discount_amount error line_items shipping tax"), "tip": nulls("amount")}
_CARD_OPTIONS_NULLS = nulls(
    """
    capture_method installments mandate_options network request_extended_authorization
    request_incremental_authorization request_multicapture request_overcapture
    require_cvc_recollection setup_credential_usage setup_future_usage
    statement_descriptor_suffix_kana statement_descriptor_suffix_kanji stored_credential_usage
    """
)
_CHARGE_NULLS = nulls(
    """
    application application_fee application_fee_amount authorization_code
    failure_balance_transaction level3 on_behalf_of presentment_details radar_options
    receipt_number review source source_transfer transfer transfer_data
    """
)
_FRAUD_DETAILS = nulls("stripe_report user_report")
_CARD_DETAILS_NULLS = nulls(
    """
    authorization_code capture_before description electronic_commerce_indicator
    extended_authorization iin incremental_authorization installments issuer mandate moto
    multicapture network_token network_transaction_id overcapture setup_credential_usage
    stored_credential_usage transaction_link_id wallet
    """
)
_AUTHENTICATED = {
    **nulls(
        """
        electronic_commerce_indicator exemption_indicator exemption_indicator_applied
        result_reason transaction_id
        """
    ),
    "authentication_flow": "challenge",
    "result": "authenticated",
    "version": "2.2.0",
}
_UNKNOWN_ADVICE = nulls("advice_code network_advice_code network_decline_code rule")
_AUTHORIZED = {
    **_UNKNOWN_ADVICE,
    "network_status": "approved_by_network",
    "reason": None,
    "risk_level": "normal",
    "risk_score": 32,
    "seller_message": "Payment complete.",
    "type": "authorized",
}
_REFUND_NULLS = nulls(
    """
    customer_account description failure_balance_transaction failure_reason next_action
    pending_reason presentment_details receipt_number source_transfer_reversal
    transfer_reversal
    """
)
_REFUND_DESTINATION = {
    "card": {
        "reference": None,
        "reference_status": "pending",
        "reference_type": "acquirer_reference_number",
        "type": "refund",
    },
    "type": "card",
}


def payment_intent(params: Obj, *, amount: int, currency: str, created: int) -> Obj:
    intent_id = new_id("pi")
    automatic = params.get("automatic_payment_methods")
    options = params.get("payment_method_options")
    card_options = options.get("card") if isinstance(options, dict) else None
    return {
        "id": intent_id,
        "object": "payment_intent",
        **_INTENT_NULLS,
        "allowed_payment_method_types": params.get("allowed_payment_method_types") or None,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": _AMOUNT_DETAILS,
        "amount_received": 0,
        "automatic_payment_methods": (
            {
                "allow_redirects": automatic.get("allow_redirects") or "always",
                "enabled": automatic.get("enabled") == "true",
            }
            if isinstance(automatic, dict)
            else _AUTOMATIC
        ),
        "capture_method": params.get("capture_method") or "automatic_async",
        "client_secret": f"{intent_id}_secret_{random_token(25)}",
        "confirmation_method": params.get("confirmation_method") or "automatic",
        "created": created,
        "currency": currency,
        "customer": params.get("customer") or None,
        "description": params.get("description") or None,
        "excluded_payment_method_types": params.get("excluded_payment_method_types") or None,
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "payment_method_options": (
            {"card": card_payment_options(card_options)}
            if isinstance(card_options, dict)
            else _DEFAULT_OPTIONS
        ),
        "payment_method_types": ["card"],
        "receipt_email": params.get("receipt_email") or None,
        "setup_future_usage": params.get("setup_future_usage") or None,
        "shipping": shipping(params.get("shipping")),
        "statement_descriptor": params.get("statement_descriptor") or None,
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix") or None,
        "status": "requires_payment_method",
        "transfer_group": params.get("transfer_group") or None,
    }


# The card options the emulator keeps (and what each may be); it ignores the others.
CARD_OPTIONS = {
    "capture_method": ("manual",),
    "request_three_d_secure": ("any", "automatic", "challenge"),
    "setup_future_usage": ("none", "off_session", "on_session"),
}


def card_payment_options(given: Obj, current: Obj | None = None) -> Obj:
    """``payment_method_options.card``: the ``CARD_OPTIONS`` given ("" unsets one) over the
    current ones, the others as a card payment leaves them."""
    options = {**_CARD_OPTIONS_NULLS, "request_three_d_secure": "automatic", **(current or {})}
    for name in CARD_OPTIONS:
        if name in given:
            options[name] = given[name] or None
    options["request_three_d_secure"] = options["request_three_d_secure"] or "automatic"
    return options


_AUTOMATIC = {"allow_redirects": "always", "enabled": True}
_DEFAULT_OPTIONS = {"card": card_payment_options({})}


def charge(
    intent: Obj,
    method: Obj,
    *,
    created: int,
    decline: Decline | None,
    captured: bool = True,
    authenticated: bool = False,
) -> Obj:
    paid = decline is None
    amount = intent["amount"]
    charge_id = new_id("ch")
    return {
        "id": charge_id,
        "object": "charge",
        **_CHARGE_NULLS,
        "amount": amount,
        "amount_captured": amount if paid and captured else 0,
        "amount_refunded": 0,
        "balance_transaction": new_id("txn") if paid and captured else None,
        "billing_details": method["billing_details"],
        "calculated_statement_descriptor": "EMULATOR",
        "captured": paid and captured,
        "created": created,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": _FRAUD_DETAILS,
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "outcome": _AUTHORIZED if decline is None else _declined(decline),
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {
            "card": _card_details(method["card"], amount if paid else None, authenticated),
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
        "refunded": False,
        "shipping": intent["shipping"],
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": "succeeded" if paid else "failed",
        "transfer_group": intent["transfer_group"],
    }


def _card_details(card: Obj, authorized: int | None, authenticated: bool) -> Obj:
    """``payment_method_details.card`` of a charge on a saved card."""
    return {
        **_CARD_DETAILS_NULLS,
        "amount_authorized": authorized,
        "brand": card["brand"],
        "checks": card["checks"],
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "last4": card["last4"],
        "network": card["brand"],
        "regulated_status": card["regulated_status"],
        "three_d_secure": _AUTHENTICATED if authenticated else None,
    }


def _declined(decline: Decline) -> Obj:
    blocked = decline.outcome_type == "blocked"
    return {
        **_UNKNOWN_ADVICE,
        "network_status": decline.network_status,
        "reason": "highest_risk_level" if blocked else decline.decline_code,
        "risk_level": "highest" if blocked else "normal",
        "risk_score": 95 if blocked else 32,
        "seller_message": (
            "Stripe blocked this payment as too risky."
            if blocked
            else "The bank did not return any further details with this decline."
        ),
        "type": decline.outcome_type,
    }


def refund(charge: Obj, *, amount: int, params: Obj, created: int) -> Obj:
    return {
        "id": new_id("re"),
        "object": "refund",
        **_REFUND_NULLS,
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "customer": charge["customer"],
        "destination_details": _REFUND_DESTINATION,
        "instructions_email": params.get("instructions_email") or None,
        "metadata": params.get("metadata") or {},
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": params.get("reason") or None,
        "status": "succeeded",
    }
